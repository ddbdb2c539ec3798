"""The command line: parse, call one op, render. The only layer that prints."""
