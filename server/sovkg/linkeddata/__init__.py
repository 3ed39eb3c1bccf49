"""Linked Data publishing as plain functions: descriptions of resources, page models, the
overlap drawing, dumps with checksums, the VoID/DCAT description and SHACL over posted data.

The HTTP handlers in ``server/routes/`` (linkeddata, pages, dumps, void, shacl) only negotiate
and call into this package. Anything derived from the whole store (dumps, VoID, home page
figures) is cached per application; call :func:`sovkg.linkeddata.state.notify_store_changed`
after the store changes (the update route does) so the next request recomputes it.
"""
