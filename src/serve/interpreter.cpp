// The code interpreter (E2B's port 49999): /execute streams newline-delimited JSON as E2B's server does; /contexts are kernels of their own.
#include "service.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/kernels/language.hpp"
#include "sandpit/session/audit_trail.hpp"
#include "sandpit/session/client.hpp"
#include "sandpit/session/profile.hpp"
#include "sandpit/util/strings.hpp"

#include <fmt/format.h>
#include <mutex>
#include <poll.h>
#include <sys/eventfd.h>
#include <thread>

namespace sandpit::serve {
namespace {

using Clock = std::chrono::steady_clock;

// E2B's server sends a keepalive line after this long without output.
constexpr std::chrono::seconds k_keepalive{5};

// "js" -> "javascript", "ts" -> "typescript", "" -> "python", as E2B's server normalises.
std::string normalise_language(std::string language) {
  const auto first = language.find_first_not_of(" \t\r\n");
  const auto last = language.find_last_not_of(" \t\r\n");
  language = first == std::string::npos ? std::string() : language.substr(first, last - first + 1);
  std::transform(language.begin(), language.end(), language.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (language.empty()) return "python";
  if (language == "js") return "javascript";
  if (language == "ts") return "typescript";
  return language;
}

// The sandpit language a context's language runs as, or nullopt.
std::optional<kernels::Language> kernel_language(const std::string& language) {
  if (language != "python" && language != "javascript" && language != "bash" && language != "typescript") return std::nullopt;
  return kernels::parse_language(language);
}

// A MIME bundle as E2B's Result: text/plain -> text (one pair of quotes stripped), ..., the rest in "extra".
json result_line(const json& bundle, bool main) {
  static const std::pair<const char*, const char*> k_keys[] = {
      {"text/plain", "text"},  {"text/html", "html"},         {"text/markdown", "markdown"},        {"image/svg+xml", "svg"},
      {"image/png", "png"},    {"image/jpeg", "jpeg"},        {"application/pdf", "pdf"},           {"text/latex", "latex"},
      {"application/json", "json"}, {"application/javascript", "javascript"}, {"e2b/data", "data"}, {"e2b/chart", "chart"}};
  json out = {{"type", "result"}};
  json extra = json::object();
  for (const auto& [mime, value] : bundle.items()) {
    const char* key = nullptr;
    for (const auto& [m, k] : k_keys) {
      if (mime == m) key = k;
    }
    if (key == nullptr) {
      extra[mime] = value;
      continue;
    }
    json v = value;
    if (std::string_view(key) == "text" && v.is_string()) {
      auto text = v.get<std::string>();
      if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"') && text.back() == text.front()) text = text.substr(1, text.size() - 2);
      v = text;
    }
    out[key] = v;
  }
  out["extra"] = extra;
  out["is_main_result"] = main;
  return out;
}

// Writes the execution's lines; a keepalive goes out after 5 s of silence, and a
// client that hangs up is noticed at once (its eventfd interrupts the run).
// Output is sent a line at a time, as Jupyter's streams do ("hi\n", not "hi" then
// "\n"); a partial line goes out once nothing has followed it for 20 ms.
class LineStream final : public session::OutputSink {
public:
  explicit LineStream(http::Response& res)
      : m_res(res), m_gone(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), m_stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    m_res.begin_stream(200, {});
    m_last = Clock::now();
    m_watch = std::thread([this] { watch(); });
  }
  ~LineStream() override {
    {
      std::lock_guard lock(m_mutex);
      m_done = true;
    }
    (void)::eventfd_write(m_stop.get(), 1);
    m_watch.join();
  }
  LineStream(const LineStream&) = delete;
  LineStream& operator=(const LineStream&) = delete;

  void line(const json& message) {
    std::lock_guard lock(m_mutex);
    flush_pending();
    write_line(message);
  }
  void on_stdout(std::string_view data) override { text(m_out, "stdout", data); }
  void on_stderr(std::string_view data) override { text(m_err, "stderr", data); }
  int gone_fd() const { return m_gone.get(); }
  void end() {
    line({{"type", "end_of_execution"}});
    std::lock_guard lock(m_mutex);
    m_res.finish();
  }

private:
  struct Pending {
    const char* type = "stdout";
    std::string text;
    Clock::time_point since;
  };

  // With m_mutex held. ASCII-escaped, as E2B's server writes them: a client that
  // decodes each chunk alone cannot split a character.
  void write_line(const json& message) {
    if (!m_res.write(message.dump(-1, ' ', true, json::error_handler_t::replace) + "\n")) gone();
    m_last = Clock::now();
  }
  void emit(Pending& p, std::size_t n) {
    if (n == 0) return;
    write_line({{"type", p.type}, {"text", p.text.substr(0, n)}, {"timestamp", iso_micros(SystemClock::now())}});
    p.text.erase(0, n);
  }
  void flush_pending() {
    emit(m_out, m_out.text.size());
    emit(m_err, m_err.text.size());
  }
  void text(Pending& p, const char* type, std::string_view data) {
    std::lock_guard lock(m_mutex);
    // The other stream's partial line first: the order of lines across streams is kept.
    Pending& other = &p == &m_out ? m_err : m_out;
    emit(other, other.text.size());
    p.type = type;
    if (p.text.empty()) p.since = Clock::now();
    p.text.append(data);
    const auto newline = p.text.rfind('\n');
    if (newline != std::string::npos) emit(p, newline + 1);
    if (!p.text.empty()) p.since = Clock::now();
  }
  void gone() { (void)::eventfd_write(m_gone.get(), 1); }

  void watch() {
    std::unique_lock lock(m_mutex);
    while (!m_done) {
      const bool partial = !m_out.text.empty() || !m_err.text.empty();
      lock.unlock();
      pollfd p[2] = {{m_res.socket(), POLLRDHUP, 0}, {m_stop.get(), POLLIN, 0}};
      const bool hung_up = ::poll(p, 2, partial ? 20 : 1000) > 0 && (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
      lock.lock();
      if (m_done) break;
      if (hung_up) {
        gone();
        break;
      }
      for (auto* pending : {&m_out, &m_err}) {
        if (!pending->text.empty() && Clock::now() - pending->since >= std::chrono::milliseconds(20)) emit(*pending, pending->text.size());
      }
      if (Clock::now() - m_last >= k_keepalive) {
        if (!m_res.write(R"({"type": "keepalive"})"
                         "\n")) {
          gone();
          break;
        }
        m_last = Clock::now();
      }
    }
  }

  http::Response& m_res;
  sys::Fd m_gone;
  sys::Fd m_stop;
  std::mutex m_mutex;
  Clock::time_point m_last;
  Pending m_out, m_err;
  bool m_done = false;
  std::thread m_watch;
};

std::optional<CodeContext> context_by_id(Sandbox& sandbox, const std::string& id) {
  std::lock_guard lock(sandbox.mutex);
  auto it = sandbox.contexts.find(id);
  if (it == sandbox.contexts.end()) return std::nullopt;
  return it->second;
}

// The default context of a language, made on first use (python and javascript exist from the start).
CodeContext default_context(Sandbox& sandbox, const std::string& language) {
  std::lock_guard lock(sandbox.mutex);
  if (auto it = sandbox.default_context.find(language); it != sandbox.default_context.end()) return sandbox.contexts.at(it->second);
  CodeContext context{random_hex(16), language, "/home/user", ""};
  sandbox.default_context[language] = context.id;
  sandbox.contexts[context.id] = context;
  return context;
}

void run(Service& service, Sandbox& sandbox, const http::Request& req, const CodeContext& context, const std::string& code,
         const std::map<std::string, std::string>& env, http::Response& res) {
  const auto language = *kernel_language(context.language);
  LineStream out(res);
  session::ExecRequest request;
  request.language = language;
  request.code = code;
  request.timeout = service.config().limits.timeout;
  request.context = context.kernel;
  request.env = env;
  const auto caller = service.caller(sandbox, req);
  try {
    session::check_env(env);
    for (const auto& notice : session::recover_lost(service.config(), sandbox.workspace)) out.on_stderr("sandpit: " + notice + "\n");
    for (const auto& finding : session::admit(service.config(), caller, sandbox.workspace, request)) {
      out.on_stderr("sandpit: " + session::warning_text(finding) + "\n");
    }
    session::protocol::Execute e;
    e.language = std::string(kernels::name_of(language));
    e.code = code;
    e.timeout_ms = request.timeout.count();
    e.user = caller.user;
    e.command = caller.command;
    e.client = caller.client;
    e.context = context.kernel;
    e.env = env;
    e.cwd = context.kernel.empty() ? std::string() : context.cwd;
    auto client = service.sandboxes().client(sandbox);
    auto on_event = [&out](const json& event) {
      if (event.value("type", "") == "started") out.line({{"type", "number_of_executions"}, {"execution_count", event.value("execution_count", 0)}});
    };
    auto result = client.execute(e, out, on_event, session::Interruption{out.gone_fd(), [] { return std::string("the E2B client disconnected"); }, false});
    for (const auto& shown : result.displays) out.line(result_line(shown, false));
    for (const auto& image : result.images) {
      out.line(result_line({{image.value("format", "png") == "png" ? "image/png" : "image/" + image.value("format", "png"), image.value("base64", "")}}, false));
    }
    if (result.result) out.line(result_line(*result.result, true));
    if (result.error) {
      out.line({{"type", "error"}, {"name", result.error->name}, {"value", result.error->value}, {"traceback", result.error->traceback}});
    }
  } catch (const Error& e) {
    const char* name = e.code() == ExitCode::policy ? "PolicyError" : e.code() == ExitCode::denied ? "AccessDenied" : "SandboxError";
    out.line({{"type", "error"}, {"name", name}, {"value", e.subject() + ": " + e.reason()}, {"traceback", ""}});
  }
  out.end();
}

void execute(Service& service, Sandbox& sandbox, const http::Request& req, http::Response& res) {
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("code") || !body["code"].is_string()) {
    return send_json(res, 422, {{"detail", json::array({{{"type", "missing"}, {"loc", {"body", "code"}}, {"msg", "Field required"}}})}});
  }
  auto text_or_null = [&](const char* name) -> std::optional<std::string> {
    if (!body.contains(name) || body[name].is_null()) return std::nullopt;
    if (!body[name].is_string()) throw ApiError(422, fmt::format("'{}' must be a string", name));
    return body[name].get<std::string>();
  };
  const auto context_id = text_or_null("context_id");
  const auto language = text_or_null("language");
  if (context_id && language) return send_text(res, 400, "Only one of context_id or language can be provided");
  std::map<std::string, std::string> env;
  if (body.contains("env_vars") && !body["env_vars"].is_null()) {
    if (!body["env_vars"].is_object()) throw ApiError(422, "'env_vars' must be an object of strings");
    for (const auto& [k, v] : body["env_vars"].items()) {
      if (!v.is_string()) throw ApiError(422, "'env_vars' must be an object of strings");
      env[k] = v.get<std::string>();
    }
  }
  CodeContext context;
  if (context_id) {
    auto found = context_by_id(sandbox, *context_id);
    if (!found) return send_text(res, 404, fmt::format("Context {} not found", *context_id));
    context = *found;
  } else {
    const auto name = normalise_language(language.value_or(""));
    if (!kernel_language(name)) return send_text(res, 500, fmt::format("Failed to create context: language '{}' is not supported by sandpit", name));
    context = default_context(sandbox, name);
  }
  if (req.body.size() > session::protocol::k_max_code) return send_text(res, 413, "the code is too long");
  run(service, sandbox, req, context, body["code"].get<std::string>(), env, res);
}

json context_json(const CodeContext& c) { return {{"id", c.id}, {"language", c.language}, {"cwd", c.cwd}}; }

void create_context(Sandbox& sandbox, const http::Request& req, http::Response& res) {
  auto body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (!body.is_object()) return send_json(res, 422, {{"detail", "the body must be a JSON object"}});
  const auto language = normalise_language(body.contains("language") && body["language"].is_string() ? body["language"].get<std::string>() : "");
  if (!kernel_language(language)) return send_text(res, 500, fmt::format("Failed to create context: language '{}' is not supported by sandpit", language));
  std::string cwd = body.contains("cwd") && body["cwd"].is_string() ? body["cwd"].get<std::string>() : "/home/user";
  if (cwd.empty() || cwd.front() != '/' || cwd.find('\0') != std::string::npos || cwd.size() > 4096) {
    return send_text(res, 500, "Failed to create context: cwd must be an absolute path");
  }
  CodeContext context{random_hex(16), language, cwd, ""};
  context.kernel = context.id;
  std::lock_guard lock(sandbox.mutex);
  if (sandbox.contexts.size() >= 64) return send_text(res, 500, "Failed to create context: a sandbox has at most 64 contexts");
  sandbox.contexts[context.id] = context;
  send_json(res, 200, context_json(context));
}

void restart_context(Service& service, Sandbox& sandbox, const CodeContext& context) {
  session::protocol::Request request;
  request.type = session::protocol::RequestType::restart;
  request.context = context.kernel;
  request.language = std::string(kernels::name_of(*kernel_language(context.language)));
  service.sandboxes().client(sandbox).call(request);
}

} // namespace

void interpreter(Service& service, const std::shared_ptr<Sandbox>& sandbox, http::Request& req, http::Response& res) {
  if (!same_secret(req.header("e2b-traffic-access-token"), sandbox->traffic_token)) {
    const auto why = req.has_header("e2b-traffic-access-token") ? "is invalid" : "is missing";
    return send_json(res, 403, {{"sandboxId", sandbox->id},
                                {"message", fmt::format("Sandbox is secured with traffic access token. Token header 'e2b-traffic-access-token' {}", why)},
                                {"code", 403}});
  }
  const auto parts = strings::split(req.path, '/');
  const auto& m = req.method;
  try {
    if (req.path == "/health" && m == "GET") return send_json(res, 200, "OK");
    if (req.path == "/execute" && m == "POST") return execute(service, *sandbox, req, res);
    if (req.path == "/contexts" && m == "POST") return create_context(*sandbox, req, res);
    if (req.path == "/contexts" && m == "GET") {
      json out = json::array();
      std::lock_guard lock(sandbox->mutex);
      for (const auto& [id, context] : sandbox->contexts) out.push_back(context_json(context));
      return send_json(res, 200, out);
    }
    if (parts.size() >= 3 && parts[1] == "contexts" && (parts.size() == 3 ? m == "DELETE" : parts.size() == 4 && parts[3] == "restart" && m == "POST")) {
      auto context = context_by_id(*sandbox, parts[2]);
      if (!context) return send_text(res, 404, fmt::format("Context {} not found", parts[2]));
      restart_context(service, *sandbox, *context);
      if (m == "DELETE") {
        std::lock_guard lock(sandbox->mutex);
        sandbox->contexts.erase(context->id);
        std::erase_if(sandbox->default_context, [&](const auto& item) { return item.second == context->id; });
      }
      return send_json(res, 200, nullptr);
    }
  } catch (const ApiError& e) {
    if (!res.answered()) return send_json(res, e.status, {{"detail", e.what()}});
    return;
  } catch (const Error& e) {
    if (!res.answered()) return send_text(res, 500, e.subject() + ": " + e.reason());
    return;
  }
  send_json(res, 404, {{"detail", "Not Found"}});
}

} // namespace sandpit::serve
