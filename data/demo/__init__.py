"""Small data sets made from the bundled handwritten digits, for demos and tests."""
