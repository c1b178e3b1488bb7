"""Fixture node: never run by these tests, only found on disk."""
