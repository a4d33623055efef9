"""The default-bundle recipe as library parts: data, features, estimators, protocol, model card."""
