"""One Blueprint per HTTP surface."""
