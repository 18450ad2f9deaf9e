"""Mappings between the canonical model and TM Forum Open API v4 resource models."""
