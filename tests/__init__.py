"""The test suite; it imports the installed ``sovkg`` package, never the repository's folders."""
