"""Helpers shared by the test modules: child processes, live servers, backends, browsers.

Test modules import them as ``from tests.support.<module> import ...``; ``conftest.py`` holds
only fixtures.
"""
