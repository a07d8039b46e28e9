"""The ``qvalley`` command line. Thin: parse arguments, call the library, print."""
