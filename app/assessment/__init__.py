"""assessment domain."""
