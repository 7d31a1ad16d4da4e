// The tool catalog: what a client's model reads to decide how to call each tool.
#include "sandpit/mcp/tools.hpp"

namespace sandpit::mcp {
namespace {

using nlohmann::json;

const char* k_session_pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

json session_property() {
  return {{"type", "string"},
          {"pattern", k_session_pattern},
          {"default", "default"},
          {"description", "The session: its variables and its /workspace files persist between calls. "
                          "A new name starts a new, empty session."}};
}

json object_schema(json properties, json required) {
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}, {"additionalProperties", false}};
}

json run_code() {
  json properties = {
      {"code", {{"type", "string"}, {"description", "The code to run."}}},
      {"language",
       {{"type", "string"},
        {"enum", {"python", "javascript", "typescript", "bash"}},
        {"default", "python"},
        {"description", "python (Python 3), javascript (Node.js), typescript (run in the same Node.js session as javascript, "
                        "types stripped, not checked) or bash."}}},
      {"timeout",
       {{"type", "number"},
        {"exclusiveMinimum", 0},
        {"description", "Seconds the run may take before it is stopped. Default: the server's limits.timeout (30 s "
                        "unless configured); at most its mcp.max_timeout."}}},
      {"session", session_property()},
      {"packages",
       {{"type", "array"},
        {"items", {{"type", "string"}}},
        {"maxItems", 64},
        {"description", "Packages to install before the code runs, if not installed yet: pip names for python (\"pandas==2.1\"), "
                        "npm names for javascript/typescript (\"lodash@4\"). They stay installed in the session's workspace."}}},
  };
  return {{"name", "run_code"},
          {"title", "Run code in the sandbox"},
          {"description",
           "Runs Python, JavaScript, TypeScript or bash code in a local Linux sandbox and returns its output: stdout, stderr, the "
           "value of a final expression (as in a notebook), the error with its traceback, and matplotlib figures as images. "
           "State persists between calls in the same session: variables, imports, functions and files in /workspace "
           "are there in the next call. The sandbox has no network and cannot see the user's files; use upload_file and "
           "download_file. Long output is cut to its head and tail and saved whole to a file in /workspace whose path the "
           "result gives. Most MCP clients give up on a call after about 60 seconds: for longer work raise 'timeout' only "
           "if your client waits that long, or run the work in steps."},
          {"inputSchema", object_schema(properties, {"code"})},
          {"annotations", {{"title", "Run code in the sandbox"}, {"readOnlyHint", false}, {"destructiveHint", false},
                           {"idempotentHint", false}, {"openWorldHint", false}}}};
}

json upload_file() {
  json properties = {
      {"path", {{"type", "string"}, {"description", "Where the file goes: relative to /workspace, or absolute under /workspace or /persist."}}},
      {"content_base64", {{"type", "string"}, {"contentEncoding", "base64"}, {"description", "The file's bytes, base64-encoded."}}},
      {"host_path", {{"type", "string"}, {"description", "A file on the user's machine to copy in instead; only under the "
                                                        "directories the server was started with --allow-dir."}}},
      {"session", session_property()},
  };
  return {{"name", "upload_file"},
          {"title", "Put a file into the sandbox"},
          {"description", "Writes a file into the session's /workspace (or the user's /persist volume), from content_base64 or "
                          "from host_path: give exactly one. An existing file at path is replaced."},
          {"inputSchema", object_schema(properties, {"path"})},
          {"annotations", {{"title", "Put a file into the sandbox"}, {"readOnlyHint", false}, {"destructiveHint", true},
                           {"idempotentHint", true}, {"openWorldHint", false}}}};
}

json download_file() {
  json properties = {
      {"path", {{"type", "string"}, {"description", "The file: relative to /workspace, or absolute under /workspace or /persist."}}},
      {"host_path", {{"type", "string"}, {"description", "Write the file here on the user's machine instead of returning it; "
                                                        "only under the directories the server was started with --allow-dir, "
                                                        "and never over an existing file."}}},
      {"session", session_property()},
  };
  return {{"name", "download_file"},
          {"title", "Get a file out of the sandbox"},
          {"description", "Returns a file from the session: text as text, images (PNG, JPEG, GIF, WebP) as images, other files "
                          "as an embedded resource (base64); or, with host_path, copies it to the user's machine."},
          {"inputSchema", object_schema(properties, {"path"})},
          {"annotations", {{"title", "Get a file out of the sandbox"}, {"readOnlyHint", true}, {"destructiveHint", false},
                           {"idempotentHint", true}, {"openWorldHint", false}}}};
}

json reset_session() {
  json properties = {
      {"session", session_property()},
      {"wipe_files", {{"type", "boolean"}, {"default", false}, {"description", "Also delete every file in the session's /workspace "
                                                                           "(the /persist volume is kept)."}}},
  };
  return {{"name", "reset_session"},
          {"title", "Reset a session"},
          {"description", "Restarts the session's interpreters, so every variable, import and background process is gone; "
                          "with wipe_files its /workspace files are deleted too."},
          {"inputSchema", object_schema(properties, json::array())},
          {"annotations", {{"title", "Reset a session"}, {"readOnlyHint", false}, {"destructiveHint", true},
                           {"idempotentHint", true}, {"openWorldHint", false}}}};
}

// The exec --json object, images without their base64.
json result_schema() {
  auto nullable = [](json type) { return json::array({std::move(type), "null"}); };
  json error = {{"type", "object"},
                {"properties", {{"name", {{"type", "string"}}}, {"value", {{"type", "string"}}}, {"traceback", {{"type", "string"}}}}},
                {"required", {"name", "value", "traceback"}}};
  json image = {{"type", "object"}, {"properties", {{"format", {{"type", "string"}}}, {"path", {{"type", "string"}}}}}, {"required", {"format"}}};
  json properties = {
      {"success", {{"type", "boolean"}}},        {"language", {{"type", "string"}}},
      {"stdout", {{"type", "string"}}},          {"stderr", {{"type", "string"}}},
      {"result", {{"type", nullable("object")}}}, {"images", {{"type", "array"}, {"items", image}}},
      {"error", {{"anyOf", {error, {{"type", "null"}}}}}},
      {"exit_code", {{"type", "integer"}}},      {"timed_out", {{"type", "boolean"}}},
      {"duration_ms", {{"type", "number"}}},     {"stdout_truncated", {{"type", "boolean"}}},
      {"stderr_truncated", {{"type", "boolean"}}}, {"session", {{"type", "string"}}},
      {"execution_count", {{"type", "integer"}}},
  };
  json required = json::array();
  for (const auto& [key, value] : properties.items()) required.push_back(key);
  return {{"type", "object"}, {"properties", properties}, {"required", required}};
}

json transfer_schema() {
  json file = {{"type", "object"},
               {"properties", {{"sandbox", {{"type", "string"}}}, {"host", {{"type", "string"}}}, {"bytes", {{"type", "integer"}}},
                               {"sha256", {{"type", "string"}}}}},
               {"required", {"sandbox", "bytes", "sha256"}}};
  return {{"type", "object"},
          {"properties", {{"files", {{"type", "array"}, {"items", file}}}, {"bytes", {{"type", "integer"}}}}},
          {"required", {"files", "bytes"}}};
}

} // namespace

json tool_catalog(bool structured) {
  json tools = {run_code(), upload_file(), download_file(), reset_session()};
  if (structured) {
    tools[0]["outputSchema"] = result_schema();
    tools[1]["outputSchema"] = transfer_schema();
    tools[2]["outputSchema"] = transfer_schema();
    tools[3]["outputSchema"] = {{"type", "object"},
                                {"properties", {{"session", {{"type", "string"}}}, {"wiped_files", {{"type", "boolean"}}}}},
                                {"required", {"session", "wiped_files"}}};
  }
  return tools;
}

} // namespace sandpit::mcp
