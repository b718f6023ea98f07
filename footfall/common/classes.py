"""The product's classes: what a store owner sees counted. One list, imported everywhere."""

from __future__ import annotations

PRODUCT_CLASSES: tuple[str, ...] = ("child", "female_adult", "male_adult")
