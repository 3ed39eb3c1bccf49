"""The SPARQL 1.1 Protocol as plain functions: request -> operation, parameter rules and their
errors, content negotiation tables, the service description, the one tokenizer (``lexer``) and
the SERVICE/LOAD guard. Testable without a server; the HTTP handler in ``sovkg.routes.sparql``
only wires them together.

Below ``sovkg.engine`` (which runs operations and uses ``lexer`` and ``guard``): nothing here
imports the engine.
"""
