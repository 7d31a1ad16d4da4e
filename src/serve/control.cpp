// The control plane: E2B's /sandboxes API, answered from the Sandboxes registry in the shapes the SDKs parse.
#include "service.hpp"

#include "sandpit/util/strings.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace sandpit::serve {
namespace {

// The envd version sandpit speaks for: at or above every gate the SDKs check (0.1.0 ... 0.6.4).
constexpr const char* k_envd_version = "0.6.13";
// E2B's API answers every sandbox with this client id.
constexpr const char* k_client_id = "6532622b";

std::string not_found_message(const std::string& id) { return fmt::format("Sandbox \"{}\" doesn't exist or you don't have access to it", id); }

json sandbox_json(const Sandbox& s) {
  return {{"alias", s.template_id},
          {"clientID", k_client_id},
          {"domain", nullptr},
          {"envdAccessToken", s.envd_token},
          {"envdVersion", k_envd_version},
          {"sandboxID", s.id},
          {"templateID", s.template_id},
          {"trafficAccessToken", s.traffic_token}};
}

json listed_json(const Sandbox& s, const config::Config& config) {
  std::lock_guard lock(s.mutex);
  return {{"alias", s.template_id},
          {"clientID", k_client_id},
          {"cpuCount", std::max(1, static_cast<int>(std::ceil(config.limits.cpu)))},
          {"diskSizeMB", config.limits.workspace >> 20},
          {"endAt", iso_millis(s.end)},
          {"envdVersion", k_envd_version},
          {"memoryMB", config.limits.memory >> 20},
          {"metadata", s.metadata},
          {"sandboxID", s.id},
          {"startedAt", iso_millis(s.started)},
          {"state", "running"},
          {"templateID", s.template_id},
          {"volumeMounts", json::array()}};
}

json detail_json(const Sandbox& s, const config::Config& config) {
  auto out = listed_json(s, config);
  out["domain"] = nullptr;
  out["envdAccessToken"] = s.envd_token;
  out["allowInternetAccess"] = config.network_enabled;
  out["lifecycle"] = {{"autoResume", false}, {"onTimeout", "kill"}};
  return out;
}

json body_of(const http::Request& req) {
  if (req.body.empty()) return json::object();
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw ApiError(400, "the request body is not a JSON object");
  return body;
}

std::map<std::string, std::string> string_map(const json& body, const char* name) {
  std::map<std::string, std::string> out;
  if (!body.contains(name) || body[name].is_null()) return out;
  if (!body[name].is_object()) throw ApiError(400, fmt::format("'{}' must be an object of strings", name));
  for (const auto& [key, value] : body[name].items()) {
    if (!value.is_string()) throw ApiError(400, fmt::format("'{}.{}' must be a string", name, key));
    out[key] = value.get<std::string>();
  }
  return out;
}

std::optional<std::int64_t> timeout_of(const json& body) {
  if (!body.contains("timeout") || body["timeout"].is_null()) return std::nullopt;
  if (!body["timeout"].is_number_integer()) throw ApiError(400, "'timeout' must be a whole number of seconds");
  return body["timeout"].get<std::int64_t>();
}

void refuse_unsupported(const json& body) {
  if (body.contains("mcp") && !body["mcp"].is_null()) throw ApiError(400, "MCP gateways are not supported by sandpit");
  if (body.contains("volumeMounts") && !body["volumeMounts"].is_null() && !body["volumeMounts"].empty()) {
    throw ApiError(400, "volume mounts are not supported by sandpit (every sandbox has /persist, the user's volume)");
  }
  if (body.value("autoPause", false)) throw ApiError(400, "pausing is not supported by sandpit: sandboxes are killed at their timeout");
}

void create(Service& service, const std::string& owner, const http::Request& req, http::Response& res) {
  auto body = body_of(req);
  refuse_unsupported(body);
  CreateSpec spec;
  spec.owner = owner;
  spec.user_agent = req.header("user-agent");
  if (body.contains("templateID") && !body["templateID"].is_null()) {
    if (!body["templateID"].is_string() || body["templateID"].get<std::string>().empty()) throw ApiError(400, "'templateID' must be a string");
    spec.template_id = body["templateID"].get<std::string>();
  }
  spec.metadata = string_map(body, "metadata");
  spec.env = string_map(body, "envVars");
  spec.timeout_s = timeout_of(body).value_or(300);
  auto sandbox = service.sandboxes().create(spec);
  fmt::print(stderr, "sandpit serve: sandbox {} created for {} (template {}, {} s)\n", sandbox->id, owner, sandbox->template_id, spec.timeout_s);
  send_json(res, 201, sandbox_json(*sandbox));
}

void connect(Service& service, const std::string& owner, const std::string& id, const http::Request& req, http::Response& res) {
  auto sandbox = service.sandboxes().find_owned(id, owner);
  if (!sandbox) throw ApiError(404, not_found_message(id));
  auto body = body_of(req);
  if (auto timeout = timeout_of(body)) {
    if (*timeout <= 0) throw ApiError(400, "Timeout must be greater than 0");
    // Connecting only ever lengthens a running sandbox's life.
    std::lock_guard lock(sandbox->mutex);
    sandbox->end = std::max(sandbox->end, SystemClock::now() + std::chrono::seconds(*timeout));
  }
  send_json(res, 200, sandbox_json(*sandbox));
}

void set_timeout(Service& service, const std::string& owner, const std::string& id, const http::Request& req, http::Response& res) {
  auto sandbox = service.sandboxes().find_owned(id, owner);
  if (!sandbox) throw ApiError(404, not_found_message(id));
  auto timeout = timeout_of(body_of(req));
  if (!timeout) throw ApiError(400, "'timeout' is required");
  if (*timeout <= 0) throw ApiError(400, "Timeout must be greater than 0");
  const auto max_s = service.config().serve_max_timeout.count() / 1000;
  if (*timeout > max_s) throw ApiError(400, fmt::format("Timeout cannot be greater than {} seconds (serve.max_timeout)", max_s));
  std::lock_guard lock(sandbox->mutex);
  sandbox->end = SystemClock::now() + std::chrono::seconds(*timeout);
  res.send(204, {}, "");
}

// metadata=k%3Dv%26k2%3Dv2 (already decoded once): "k=v&k2=v2", each side escaped again.
std::map<std::string, std::string> metadata_filter(const std::string& text) {
  std::map<std::string, std::string> out;
  if (text.empty()) return out;
  const auto plain = http::decode_component(text, false);
  for (const auto& pair : strings::split(plain, '&')) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || pair.find('=', eq + 1) != std::string::npos) throw ApiError(400, "Invalid metadata filter: expected key=value pairs");
    out[http::decode_component(pair.substr(0, eq), false)] = http::decode_component(pair.substr(eq + 1), false);
  }
  return out;
}

void list(Service& service, const std::string& owner, const http::Request& req, http::Response& res, bool paged) {
  const auto filter = metadata_filter(req.param("metadata"));
  bool running = true;
  if (req.has_param("state")) {
    running = false;
    for (const auto& state : strings::split(req.param("state"), ',')) {
      if (state == "running") running = true;
      else if (state != "paused") throw ApiError(400, fmt::format("Invalid state: {}", state));
    }
  }
  std::vector<std::shared_ptr<Sandbox>> matched;
  if (running) {
    for (auto& sandbox : service.sandboxes().list(owner)) {
      bool keep = std::all_of(filter.begin(), filter.end(), [&](const auto& kv) {
        auto it = sandbox->metadata.find(kv.first);
        return it != sandbox->metadata.end() && it->second == kv.second;
      });
      if (!req.param("template").empty()) keep = keep && sandbox->template_id == req.param("template");
      if (keep) matched.push_back(sandbox);
    }
  }
  const bool ascending = req.param("order") == "asc";
  if (!req.param("order").empty() && req.param("order") != "asc" && req.param("order") != "desc") throw ApiError(400, "Invalid order: use asc or desc");
  std::sort(matched.begin(), matched.end(), [&](const auto& a, const auto& b) {
    return ascending ? std::tie(a->started, a->id) < std::tie(b->started, b->id) : std::tie(a->started, a->id) > std::tie(b->started, b->id);
  });
  std::size_t offset = 0, limit = matched.size();
  if (paged) {
    limit = 100;
    if (req.has_param("limit")) {
      const auto text = req.param("limit");
      if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string::npos || std::stoul(text) == 0) {
        throw ApiError(400, "Invalid limit: a whole number from 1 to 100");
      }
      limit = std::min<std::size_t>(std::stoul(text), 100);
    }
    if (req.has_param("nextToken")) {
      const auto token = req.param("nextToken");
      auto it = std::find_if(matched.begin(), matched.end(), [&](const auto& s) { return s->id == token; });
      if (it == matched.end()) throw ApiError(400, "Invalid next token");
      offset = static_cast<std::size_t>(it - matched.begin());
    }
  }
  json out = json::array();
  for (std::size_t i = offset; i < matched.size() && i < offset + limit; ++i) out.push_back(listed_json(*matched[i], service.config()));
  http::Headers headers;
  // The cursor is the id of the first sandbox of the next page; absent on the last page.
  if (paged && offset + limit < matched.size()) headers.emplace_back("X-Next-Token", matched[offset + limit]->id);
  send_json(res, 200, out, std::move(headers));
}

void metrics(Service& service, const std::string& owner, const std::string& id, http::Response& res) {
  auto sandbox = service.sandboxes().find_owned(id, owner);
  if (!sandbox) throw ApiError(404, not_found_message(id));
  std::uint64_t memory = 0;
  try {
    memory = service.sandboxes().client(*sandbox).call(session::protocol::RequestType::info).value("memory_bytes", std::uint64_t{0});
  } catch (const Error&) {
  }
  const auto now = SystemClock::now();
  const auto& limits = service.config().limits;
  send_json(res, 200,
            json::array({{{"timestamp", iso_millis(now)},
                          {"timestampUnix", std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()},
                          {"cpuCount", std::max(1, static_cast<int>(std::ceil(limits.cpu)))},
                          {"cpuUsedPct", 0.0},
                          {"memUsed", memory},
                          {"memTotal", limits.memory},
                          {"memCache", 0},
                          {"diskUsed", 0},
                          {"diskTotal", limits.workspace}}}));
}

} // namespace

void control_plane(Service& service, const std::string& owner, http::Request& req, http::Response& res) {
  const auto parts = strings::split(req.path, '/');
  // "/v2/sandboxes/ID/connect" -> ["", "v2", "sandboxes", "ID", "connect"]; the v2 forms are the same calls.
  std::vector<std::string> p(parts.begin() + (parts.size() > 1 ? 1 : 0), parts.end());
  if (!p.empty() && p.front() == "v2") p.erase(p.begin());
  if (!p.empty() && p.back().empty()) p.pop_back();
  const auto& m = req.method;
  if (p.size() == 1 && p[0] == "health") return send_json(res, 200, {{"message", "Health check successful"}});
  if (p.empty() || p[0] != "sandboxes") {
    if (!p.empty() && (p[0] == "snapshots" || p[0] == "templates" || p[0] == "volumes")) {
      throw ApiError(501, fmt::format("{} are not supported by sandpit", p[0]));
    }
    throw ApiError(404, fmt::format("no such endpoint: {} {}", m, req.path));
  }
  if (p.size() == 1) {
    if (m == "POST") return create(service, owner, req, res);
    if (m == "GET") return list(service, owner, req, res, strings::starts_with(req.path, "/v2/"));
  } else if (p.size() == 2) {
    if (m == "DELETE") {
      if (!service.sandboxes().kill(p[1], owner)) throw ApiError(404, not_found_message(p[1]));
      fmt::print(stderr, "sandpit serve: sandbox {} killed by {}\n", p[1], owner);
      return res.send(204, {}, "");
    }
    if (m == "GET") {
      auto sandbox = service.sandboxes().find_owned(p[1], owner);
      if (!sandbox) throw ApiError(404, fmt::format("Sandbox {} not found", p[1]));
      return send_json(res, 200, detail_json(*sandbox, service.config()));
    }
  } else if (p.size() == 3) {
    const auto& action = p[2];
    if (action == "connect" && m == "POST") return connect(service, owner, p[1], req, res);
    if (action == "timeout" && m == "POST") return set_timeout(service, owner, p[1], req, res);
    if (action == "metrics" && m == "GET") return metrics(service, owner, p[1], res);
    if (action == "resume" && m == "POST") {
      if (!service.sandboxes().find_owned(p[1], owner)) throw ApiError(404, not_found_message(p[1]));
      throw ApiError(409, fmt::format("Sandbox {} is already running", p[1]));
    }
    if (action == "refreshes" && m == "POST") {
      // Older SDKs' keep-alive: {"duration": seconds}.
      auto sandbox = service.sandboxes().find_owned(p[1], owner);
      if (!sandbox) throw ApiError(404, not_found_message(p[1]));
      auto body = body_of(req);
      const auto seconds = body.contains("duration") && body["duration"].is_number_integer() ? body["duration"].get<std::int64_t>() : 60;
      std::lock_guard lock(sandbox->mutex);
      sandbox->end = std::max(sandbox->end, SystemClock::now() + std::chrono::seconds(std::max<std::int64_t>(seconds, 1)));
      return res.send(204, {}, "");
    }
    if (action == "pause" || action == "snapshots" || action == "fork" || action == "network") {
      if (!service.sandboxes().find_owned(p[1], owner)) throw ApiError(404, not_found_message(p[1]));
      throw ApiError(501, fmt::format("{} is not supported by sandpit", action == "pause" ? "pausing a sandbox" : action));
    }
  }
  throw ApiError(p.size() <= 3 ? 405 : 404, fmt::format("no such endpoint: {} {}", m, req.path));
}

} // namespace sandpit::serve
