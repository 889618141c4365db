"""The networks: architectures by name, building one from verified weights, and Grad-CAM."""

from boneage.model.architectures import BoneAgeRegressor, create_model, list_models

__all__ = ["BoneAgeRegressor", "create_model", "list_models"]
