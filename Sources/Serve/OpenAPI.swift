/// The HTTP API as an OpenAPI 3.1 document, served at `/api/openapi.json`.
enum OpenAPI {
    static let document = "{}"
}
