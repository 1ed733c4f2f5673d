"""The OpenAPI document describes both request shapes of search (the seeds' JSON with a base64
image, and multipart) and the new endpoints."""

from drf_spectacular.generators import SchemaGenerator


def _schema() -> dict:
    return SchemaGenerator(urlconf="deeplens.urls_schema").get_schema(request=None, public=True)


def test_similarity_search_documents_the_json_and_the_multipart_body():
    schema = _schema()
    body = schema["paths"]["/api/v1/search/similarity"]["post"]["requestBody"]["content"]
    components = schema["components"]["schemas"]

    json_body = components[body["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
    multipart = components[body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]

    assert json_body["image"]["type"] == "string" and "base64" in json_body["image"]["description"]
    assert json_body["vector"]["type"] == "array"
    assert json_body["storage_locations"]["type"] == "array"
    assert {"min_confidence", "collapse_duplicates", "image_id", "url"} <= set(json_body)
    assert multipart["image"]["format"] == "binary"
    response = schema["paths"]["/api/v1/search/similarity"]["post"]["responses"]["200"]["content"]
    result = components[
        components[response["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]["results"][
            "items"
        ]["$ref"].rsplit("/", 1)[1]
    ]["properties"]
    match = components[result["match"]["allOf"][0]["$ref"].rsplit("/", 1)[1]]
    assert match["enum"] == ["identical", "same_picture", "similar"]
    assert {"confidence", "verified_by", "duplicate_count"} <= set(result)


def test_the_vector_and_extract_endpoints_are_documented():
    paths = _schema()["paths"]

    assert "get" in paths["/api/v1/images/{image_id}/vector"]
    assert {"application/json", "multipart/form-data"} <= set(
        paths["/api/v1/search/extract"]["post"]["requestBody"]["content"]
    )
