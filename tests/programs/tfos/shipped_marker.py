"""Shipped to the nodes with --py-files as a plain .py file."""

VALUE = "shipped-with-py-files"
