// envd's pieces: the Connect services and what they share (the sandbox's user, its home, errors in Connect's terms).
#pragma once

#include "connect.hpp"
#include "service.hpp"

#include "sandpit/files/files.hpp"

#include <string>

namespace sandpit::serve {

// E2B's user and home; code written for E2B reads and writes /home/user.
inline constexpr const char* k_default_user = "user";
inline constexpr const char* k_home = "/home/user";

// The user a Connect call names in `Authorization: Basic <user:>` ("user" when none).
// "root" is accepted and runs as the sandbox's one user. Throws RpcError(unauthenticated) for others.
std::string rpc_user(const http::Request& req);
// Throws for a user the sandbox does not have (RpcError when `rpc`, else ApiError 401).
void check_user(const std::string& user, bool rpc);

// A path as the client named it, resolved against /home/user. Throws RpcError
// (invalid_argument for "~other", permission_denied outside /home/user, /workspace, /tmp and /persist).
files::HomePath rpc_path(const std::string& text);
// A FileError in Connect's terms (not_found, already_exists, invalid_argument, resource_exhausted, internal).
[[noreturn]] void throw_rpc(const files::FileError& e);

void process_service(Service& service, const std::shared_ptr<Sandbox>& sandbox, const std::string& method, http::Request& req, http::Response& res);
void filesystem_service(Service& service, const std::shared_ptr<Sandbox>& sandbox, const std::string& method, http::Request& req,
                        http::Response& res);

} // namespace sandpit::serve
