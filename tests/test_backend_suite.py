"""The live-server tests of the endpoint, the pages, the dumps and VoID, run again with
``sovkg serve --backend`` in front of the native Oxigraph server (which holds the shipped graph).

Each test below is the same function as in its own module; only ``live_server`` is the backend
server here (the ``store`` fixture still gives the local copy, so answers are compared with the
data, not with themselves).
"""

from __future__ import annotations

import pytest

from tests.support.server import LiveServer
from tests.test_hardening_outbound import (  # noqa: F401 - fixtures and tests, run here again
    listener,
    test_service_inside_a_string_is_not_a_call,
    test_service_to_an_unlisted_endpoint_is_refused_without_a_connection,
)
from tests.test_ld_dumps import (  # noqa: F401
    dumps,
    test_dumps_are_the_bytes_of_sovkg_export,
    test_etag_304_and_gzip,
    test_listing_gives_sizes_and_checksums,
    test_six_dumps_parse_and_are_isomorphic_to_the_store,
    test_unknown_dump_is_404,
)
from tests.test_ld_pages import (  # noqa: F401
    test_entity_page_shows_status_and_source_sentence_of_each_fact,
    test_home_page_draws_multi_team_organisations_rolled_up,
    test_home_page_tells_what_and_where_from_with_counts_and_links,
    test_ontology_page_documents_classes_properties_and_schemes,
    test_team_page_reads_as_the_story,
)
from tests.test_ld_resources import (  # noqa: F401
    test_live_description_includes_labels_of_linked_things,
    test_live_negotiation_headers_and_format_override,
    test_live_ontology_and_shapes_dereference,
    test_live_page_language_from_accept_language_and_lang,
    test_live_unknown_iri_is_404_for_people_and_programs,
)
from tests.test_ld_void import (  # noqa: F401
    test_void_dumps_match_the_served_bytes,
    test_void_licence_version_and_source_come_from_the_graph,
    test_void_names_endpoint_space_vocabularies_and_size,
    test_void_negotiates_other_syntaxes,
    void,
)
from tests.test_sparql_endpoint import (  # noqa: F401
    test_406_lists_what_is_available,
    test_ask_formats,
    test_browsers_get_the_query_ui,
    test_csv_results,
    test_from_uses_its_graph_not_the_union,
    test_graph_formats_parse_back_to_the_same_graph,
    test_q_values_and_wildcards,
    test_real_clients_agree_with_sovkg_query,
    test_select_formats_parse_back_to_the_same_result,
    test_service_description,
    test_updates_are_refused_on_a_read_only_server,
)


@pytest.fixture(scope="module")
def live_server(backend_server: LiveServer) -> LiveServer:
    """Here the "live server" is the endpoint in front of the Oxigraph backend."""
    return backend_server
