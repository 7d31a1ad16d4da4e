// upload_file, download_file and reset_session: files in and out of a session with upload/download's rules, and a fresh start.
#include "tools_impl.hpp"

#include "arguments.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/base64.hpp"
#include "sandpit/session/client.hpp"
#include "sandpit/util/units.hpp"

#include <fmt/format.h>

namespace sandpit::mcp {
namespace {

using nlohmann::json;

// Bytes download_file returns inline (as text, an image or a resource); more needs host_path.
constexpr std::uint64_t k_max_inline = 10u << 20;

json report_json(const files::Report& report) {
  json list = json::array();
  for (const auto& f : report.files) {
    json file = {{"sandbox", f.sandbox}, {"bytes", f.bytes}, {"sha256", f.sha256}};
    if (!f.host.empty()) file["host"] = f.host;
    list.push_back(std::move(file));
  }
  return {{"files", list}, {"bytes", report.bytes()}};
}

enum class Way { in, out };

// "uploaded HOST -> /workspace/x (12 KiB, sha256 ...)", one line per file, then what was skipped.
std::string report_text(Way way, const files::Report& report) {
  std::string text;
  for (const auto& f : report.files) {
    const auto route = way == Way::in ? f.host + " -> " + f.sandbox : f.host.empty() ? f.sandbox : f.sandbox + " -> " + f.host;
    text += fmt::format("{} {} ({}, sha256 {})\n", way == Way::in ? "uploaded" : "downloaded", route, units::format_size(f.bytes), f.sha256);
  }
  for (const auto& s : report.skipped) text += fmt::format("skipped {}: {}\n", s.path, s.why);
  return text;
}

// The image type `bytes` starts with, from its magic number; "" for none.
std::string image_type(std::string_view bytes) {
  if (bytes.starts_with("\x89PNG\r\n\x1a\n")) return "image/png";
  if (bytes.starts_with("\xff\xd8\xff")) return "image/jpeg";
  if (bytes.starts_with("GIF87a") || bytes.starts_with("GIF89a")) return "image/gif";
  if (bytes.size() >= 12 && bytes.starts_with("RIFF") && bytes.substr(8, 4) == "WEBP") return "image/webp";
  return "";
}

// Whether `bytes` reads as text: valid UTF-8 (the JSON encoder refuses anything else) without NUL bytes.
bool is_text(const std::string& bytes) {
  if (bytes.find('\0') != std::string::npos) return false;
  try {
    (void)nlohmann::json(bytes).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

json file_uri(const files::SandboxPath& path) { return "file://" + path.shown(); }

} // namespace

json SandpitTools::upload_file(const json& arguments, Call& call) {
  Arguments args(arguments, {"path", "content_base64", "host_path", "session"});
  auto destination = files::parse_sandbox_path(args.required_string("path", 4096));
  auto content = args.string("content_base64", k_max_input_line);
  auto host_path = args.string("host_path", 4096);
  if (content.has_value() == host_path.has_value()) throw BadArgument("give exactly one of 'content_base64' and 'host_path'");
  auto workspace = m_env.workspace(args.session());
  auto caller = m_env.caller(call, "upload");
  files::Report report;
  if (content) {
    auto bytes = files::decode_base64(*content);
    if (!bytes) throw BadArgument("'content_base64' is not valid base64");
    report = m_env.write(caller, workspace, destination, *bytes, fmt::format("(content_base64, {} bytes)", bytes->size()));
  } else {
    const auto host = m_env.allowed_host_path(*host_path, true);
    report = m_env.transfer(caller, workspace, {host.string(), destination.shown()}, [&](const files::Roots& roots, files::Transfer t) {
      t.recursive = files::Recursive::yes;
      return files::upload(host, roots, destination, t);
    });
  }
  json out = text_result(report_text(Way::in, report), false);
  if (m_structured) out["structuredContent"] = report_json(report);
  return out;
}

json SandpitTools::download_file(const json& arguments, Call& call) {
  Arguments args(arguments, {"path", "host_path", "session"});
  auto source = files::parse_sandbox_path(args.required_string("path", 4096));
  auto host_path = args.string("host_path", 4096);
  auto workspace = m_env.workspace(args.session());
  auto caller = m_env.caller(call, "download");
  files::Report report;
  if (host_path) {
    const auto host = m_env.allowed_host_path(*host_path, false);
    report = m_env.transfer(caller, workspace, {source.shown(), host.string()},
                            [&](const files::Roots& roots, const files::Transfer& t) { return files::download(roots, source, host, t); });
    json out = text_result(report_text(Way::out, report), false);
    if (m_structured) out["structuredContent"] = report_json(report);
    return out;
  }
  auto bytes = m_env.read(caller, workspace, source, k_max_inline, report);  // refuses more, naming the cap and host_path
  json block;
  if (auto type = image_type(bytes); !type.empty()) {
    block = {{"type", "image"}, {"data", files::encode_base64(bytes)}, {"mimeType", type}};
  } else if (is_text(bytes) && bytes.size() <= m_env.config().mcp_max_output) {
    block = {{"type", "text"}, {"text", bytes}};
  } else if (is_text(bytes)) {
    block = {{"type", "resource"}, {"resource", {{"uri", file_uri(source)}, {"mimeType", "text/plain"}, {"text", bytes}}}};
  } else {
    block = {{"type", "resource"},
             {"resource", {{"uri", file_uri(source)}, {"mimeType", "application/octet-stream"}, {"blob", files::encode_base64(bytes)}}}};
  }
  json out = {{"content", json::array({{{"type", "text"}, {"text", report_text(Way::out, report)}}, block})}, {"isError", false}};
  if (m_structured) out["structuredContent"] = report_json(report);
  return out;
}

json SandpitTools::reset_session(const json& arguments, Call&) {
  Arguments args(arguments, {"session", "wipe_files"});
  const auto name = args.session();
  const bool wipe = args.boolean("wipe_files", false);
  auto workspace = m_env.workspace(name);
  const auto& config = m_env.config();
  auto client = session::Client::connect(workspace, m_env.options().config_file, session::Start::yes, "", config.max_sessions);
  client->call(wipe ? session::protocol::RequestType::reset : session::protocol::RequestType::restart);
  json out = text_result(fmt::format("session {}: interpreters restarted{}\n", name, wipe ? ", /workspace emptied" : ""), false);
  if (m_structured) out["structuredContent"] = {{"session", name}, {"wiped_files", wipe}};
  return out;
}

} // namespace sandpit::mcp
