"""The SPARQL 1.1 Protocol as plain functions: request -> operation, parameter rules and their
errors, content negotiation tables, the service description. Testable without a server; the
HTTP handler in ``sovkg.routes.sparql`` only wires them together.

Kept free of imports so that ``sovkg.engine`` can use the leaf module ``lexer``.
"""
