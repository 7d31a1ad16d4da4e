// envd (E2B's port 49983): authentication, /health, /envs, /files, and the Connect services behind /process.Process/* and /filesystem.Filesystem/*.
#include "envd.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/base64.hpp"

#include <fmt/format.h>

namespace sandpit::serve {
namespace {

void unauthorized(http::Response& res, const std::string& message) { send_error(res, 401, message); }

} // namespace

std::string rpc_user(const http::Request& req) {
  const auto auth = req.header("authorization");
  if (auth.rfind("Basic ", 0) != 0) return k_default_user;
  auto decoded = files::decode_base64(auth.substr(6));
  if (!decoded) throw connect::RpcError(connect::Code::unauthenticated, "invalid Authorization header");
  auto user = decoded->substr(0, decoded->find(':'));
  if (user.empty()) return k_default_user;
  check_user(user, true);
  return user;
}

void check_user(const std::string& user, bool rpc) {
  if (user.empty() || user == k_default_user || user == "root") return;
  if (rpc) throw connect::RpcError(connect::Code::unauthenticated, fmt::format("invalid username: '{}'", user));
  throw ApiError(401, fmt::format("error looking up user '{}': user: unknown user {}", user, user));
}

void envd(Service& service, const std::shared_ptr<Sandbox>& sandbox, http::Request& req, http::Response& res) {
  const auto& path = req.path;
  if (path == "/health") return res.send(204, {{"Cache-Control", "no-store"}}, "");
  const bool has_token = req.has_header("x-access-token");
  const bool token_ok = has_token && same_secret(req.header("x-access-token"), sandbox->envd_token);
  if (path == "/files") {
    if (has_token && !token_ok) return unauthorized(res, "access token present in header but does not match");
    std::string why;
    if (!token_ok && !signature_valid(*sandbox, req, why)) return unauthorized(res, why);
    try {
      return files_endpoint(service, sandbox, req, res);
    } catch (const ApiError& e) {
      if (!res.answered()) send_error(res, e.status, e.what());
      return;
    }
  }
  if (!token_ok) return unauthorized(res, "unauthorized access, please provide a valid access token or method signing if supported");
  if (path == "/envs" && req.method == "GET") return send_json(res, 200, sandbox->env, {{"Cache-Control", "no-store"}});
  if (req.method != "POST" || (path.rfind("/process.Process/", 0) != 0 && path.rfind("/filesystem.Filesystem/", 0) != 0)) {
    return send_error(res, 404, fmt::format("no such endpoint: {} {}", req.method, path));
  }
  const bool stream = connect::is_stream(req);
  try {
    const auto method = path.substr(path.rfind('/') + 1);
    if (path.rfind("/process.Process/", 0) == 0) return process_service(service, sandbox, method, req, res);
    return filesystem_service(service, sandbox, method, req, res);
  } catch (const connect::RpcError& e) {
    if (res.answered()) return;
    if (stream) {
      connect::Stream s(res);
      s.end(e.code, e.what());
    } else {
      connect::unary_error(res, e.code, e.what());
    }
  } catch (const Error& e) {
    if (res.answered()) return;
    const auto message = e.subject() + ": " + e.reason();
    if (stream) {
      connect::Stream s(res);
      s.end(connect::Code::internal, message);
    } else {
      connect::unary_error(res, connect::Code::internal, message);
    }
  }
}

} // namespace sandpit::serve
