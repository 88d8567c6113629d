"""Spiders of the zwaudit crawler."""
