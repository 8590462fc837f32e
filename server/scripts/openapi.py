#!/usr/bin/env python3
"""Writes server/openapi.json: the API's description, kept equal to the routes by
server/tests/server/openapi.rs. Edit this script, run it, commit both."""
import json, os

ERR = {"$ref": "#/components/responses/Error"}
def op(summary, security, responses, params=None, body=None, tag=None, desc=None):
    o = {"summary": summary, "security": security, "responses": responses}
    if desc: o["description"] = desc
    if params: o["parameters"] = params
    if body: o["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if tag: o["tags"] = [tag]
    return o
def ok(desc, schema=None, code="200"):
    r = {"description": desc}
    if schema is not None:
        r["content"] = {"application/json": {"schema": schema}}
    return {code: r, "4XX": ERR, "5XX": ERR}
def q(name, desc, required=False, schema=None):
    return {"name": name, "in": "query", "required": required, "description": desc, "schema": schema or {"type": "string"}}
def p(name, desc):
    return {"name": name, "in": "path", "required": True, "description": desc, "schema": {"type": "string"}}
def h(name, desc, required=True):
    return {"name": name, "in": "header", "required": required, "description": desc, "schema": {"type": "string"}}
def key(scope): return [{"secretKey": [scope]}]
SESSION = [{"connectSession": []}]
ANY = [{"secretKey": []}, {"connectSession": []}]
OPEN = []
obj = {"type": "object"}
CONN_ID = h("Connection-Id", "The connection to use.")

paths = {
  "/health": {"get": op("Whether the server and its store answer", OPEN, ok("Healthy", obj), tag="operations")},
  "/metrics": {"get": op("Prometheus metrics: requests, proxy latency, refreshes, sync runs, outbox depth", key("admin"),
      {"200": {"description": "Prometheus' text format", "content": {"text/plain": {"schema": {"type": "string"}}}}, "4XX": ERR}, tag="operations")},
  "/openapi.json": {"get": op("This document", OPEN, ok("The OpenAPI document", obj), tag="operations")},
  "/connect/sessions": {"post": op("Create a connect session for an end user (30 minutes)", key("connections:write"),
      ok("The session token, shown once", {"$ref": "#/components/schemas/ConnectSession"}, "201"),
      body={"$ref": "#/components/schemas/NewConnectSession"}, tag="connect")},
  "/providers": {"get": op("The catalog's providers", ANY, ok("Providers", obj), [q("search", "Case-insensitive filter on key and display name")], tag="providers")},
  "/providers/{key}": {"get": op("A provider with its connection form", ANY, ok("The provider and its form", obj), [p("key", "The provider key")], tag="providers")},
  "/auth/{provider}": {"post": op("Connect a provider with params and credentials (end user)", SESSION,
      ok("Connected", {"$ref": "#/components/schemas/Connected"}, "201"), [p("provider", "The provider key")],
      {"$ref": "#/components/schemas/AuthBody"}, "connect",
      "Every problem of the params and credentials at once as 422 `invalid_params`, then the catalog's verification (422 `invalid_credentials`), then the connection is stored with the session's end user and tags.")},
  "/oauth/connect/{provider}": {"get": op("Start an OAuth flow in the end user's browser (redirects to the provider)", OPEN,
      {"303": {"description": "To the provider's authorization URL"}, "4XX": {"description": "A page that posts the error to its opener"}},
      [p("provider", "The provider key"), q("session_token", "The connect session token", True), q("connection_id", "The connection's id (new one if absent)"),
       q("origin", "The connect page's origin (one of the server's connect origins)"), q("params", "The connection config as a JSON object")], tag="connect")},
  "/oauth/callback": {"get": op("The OAuth redirect URI: finishes the flow on any replica", OPEN,
      {"200": {"description": "A page that posts `{type: connect, provider_config_key, connection_id}` to its opener and closes"},
       "400": {"description": "A page that posts `{type: error, error}` to its opener"}}, tag="connect")},
  "/connections": {
    "get": op("List connections", key("connections:read"), ok("A page of connections", obj),
      [q("end_user_id", "Only this end user's"), q("provider", "Only this provider's"), q("tag", "Only those with this tag, `key:value`"),
       q("cursor", "Where the previous page ended"), q("limit", "At most this many (1 to 1000)", schema={"type": "integer"})], tag="connections"),
    "post": op("Import a connection (existing credentials or tokens)", key("connections:write"), ok("Imported", obj, "201"), body=obj, tag="connections")},
  "/connections/{id}": {
    "get": op("A connection, without secrets; with `include_credentials=true` (and credentials:read) a fresh access token", key("connections:read"), ok("The connection", obj),
      [p("id", "The connection id"), q("include_credentials", "Include the credentials and a fresh access token", schema={"type": "boolean"}),
       q("force_refresh", "Renew the access token now", schema={"type": "boolean"}), q("include_refresh_token", "Include the refresh token", schema={"type": "boolean"})], tag="connections"),
    "patch": op("Change a connection's metadata, tags or end user", key("connections:write"), ok("Changed", obj), [p("id", "The connection id")], obj, "connections"),
    "delete": op("Delete a connection", key("connections:write"), {"204": {"description": "Deleted"}, "4XX": ERR, "5XX": ERR}, [p("id", "The connection id")], tag="connections")},
  "/proxy/{path}": {m: op("Send a request to the provider through the connection", key("proxy"),
      {"default": {"description": "The provider's status, headers and body (bounded)"}, "4XX": ERR, "5XX": ERR},
      [p("path", "The path relative to the provider's base URL"), CONN_ID, h("Provider-Config-Key", "The connection's provider, checked", False),
       h("Retries", "At most this many retries (lowers the catalog's)", False)], tag="proxy") for m in ["get", "post", "put", "patch", "delete"]},
  "/sync/trigger": {"post": op("Start syncs of a connection", key("sync"), ok("Started", obj, "202"), body={"$ref": "#/components/schemas/SyncTrigger"}, tag="sync")},
  "/sync/status": {"get": op("The state of a connection's syncs", key("sync"), ok("Status per sync", obj),
      [q("connection_id", "The connection", True), q("syncs", "Comma-separated sync names (all when absent)")], tag="sync")},
  "/records": {"get": op("Synced records with their metadata, after a cursor", key("records"), ok("A page of records and the next cursor", obj),
      [CONN_ID, q("model", "The model", True), q("cursor", "Where the previous page ended"), q("modified_after", "RFC 3339"),
       q("limit", "At most this many (1 to 1000)", schema={"type": "integer"}), q("filter", "added,updated,deleted")], tag="records")},
  "/action/{name}": {"post": op("Run a declared action with its input", key("actions"), ok("The action's output", obj), [p("name", "The action"), CONN_ID], obj, "actions")},
}

doc = {
  "openapi": "3.1.0",
  "info": {"title": "terapi", "version": "0.1.0",
           "description": "terapi's HTTP API (`terapi serve`). Keys: `Authorization: Bearer <secret key>`; end-user routes take a connect session token the same way. Errors: `{\"error\": {\"code\", \"message\", \"fields\"?}}`."},
  "paths": dict(sorted(paths.items())),
  "components": {
    "securitySchemes": {
      "secretKey": {"type": "http", "scheme": "bearer", "description": "A secret key (`terapi keys create --scopes …`); its scopes are the requirement's list."},
      "connectSession": {"type": "http", "scheme": "bearer", "description": "A connect session token (`POST /connect/sessions`)."}},
    "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
          "code": {"type": "string"}, "message": {"type": "string"},
          "fields": {"type": "array", "items": {"type": "object", "properties": {"section": {"type": "string"}, "param": {"type": "string"}, "message": {"type": "string"}}}}}}}},
      "NewConnectSession": {"type": "object", "required": ["end_user"], "properties": {
          "end_user": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}, "display_name": {"type": "string"}}},
          "allowed_integrations": {"type": "array", "items": {"type": "string"}},
          "tags": {"type": "object", "additionalProperties": {"type": "string"}}}},
      "ConnectSession": {"type": "object", "properties": {"data": {"type": "object", "properties": {
          "token": {"type": "string"}, "connect_link": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}}}}},
      "AuthBody": {"type": "object", "properties": {"connection_id": {"type": "string"},
          "params": {"type": "object", "additionalProperties": {"type": "string"}}, "credentials": {"type": "object", "additionalProperties": {"type": "string"}}}},
      "Connected": {"type": "object", "properties": {"data": {"type": "object", "properties": {
          "provider_config_key": {"type": "string"}, "connection_id": {"type": "string"}}}}},
      "SyncTrigger": {"type": "object", "required": ["connection_id", "syncs"], "properties": {
          "connection_id": {"type": "string"}, "syncs": {"type": "array", "items": {"type": "string"}}, "full": {"type": "boolean"}}},
    }},
}
out = os.path.join(os.path.dirname(__file__), "..", "openapi.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=2, ensure_ascii=True)
    f.write("\n")
