"""Fakes standing in for vendor libraries at the boundary our code talks to."""
