#include "sandpit/mcp/server.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <poll.h>
#include <unistd.h>

using namespace sandpit::mcp;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// echo {text}; block: runs until cancelled; fail: isError.
class FakeTools final : public Tools {
public:
  json list() const override { return json::array({{{"name", "echo"}, {"inputSchema", {{"type", "object"}}}}}); }
  json call(const std::string& name, const json& arguments, Call& call) override {
    if (name == "echo") {
      last_client = call.client().text();
      return {{"content", json::array({{{"type", "text"}, {"text", arguments.value("text", "")}}})}, {"isError", false}};
    }
    if (name == "block") {
      call.output("step one\nstep two\n");
      pollfd p{call.cancel_fd(), POLLIN, 0};
      ::poll(&p, 1, 10'000);
      return {{"content", json::array({{{"type", "text"}, {"text", call.cancel_reason()}}})}, {"isError", true}};
    }
    throw RpcError(code::invalid_params, "Unknown tool: " + name);
  }
  std::string lane(const std::string&, const json& arguments) const override {
    return arguments.is_object() ? arguments.value("session", "default") : "default";
  }
  std::string last_client;
};

class Collect final : public Transport {
public:
  void send(const std::string& message) override {
    std::lock_guard lock(m_mutex);
    m_lines.push_back(json::parse(message));
    m_changed.notify_all();
  }
  // The first message (after `from`) that `match` accepts, waiting up to 5 s; null if none came.
  json wait(const std::function<bool(const json&)>& match, std::chrono::milliseconds limit = 5000ms) {
    std::unique_lock lock(m_mutex);
    json found;
    m_changed.wait_for(lock, limit, [&] {
      for (const auto& line : m_lines) {
        if (match(line)) {
          found = line;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  json reply(int id, std::chrono::milliseconds limit = 5000ms) {
    return wait([id](const json& m) { return m.is_object() && m.contains("id") && m["id"] == id; }, limit);
  }
  // The messages `match` accepts, once there are `n` of them (or after 5 s).
  std::vector<json> wait_count(const std::function<bool(const json&)>& match, std::size_t n) {
    std::unique_lock lock(m_mutex);
    std::vector<json> found;
    m_changed.wait_for(lock, 5000ms, [&] {
      found.clear();
      for (const auto& line : m_lines) {
        if (match(line)) found.push_back(line);
      }
      return found.size() >= n;
    });
    return found;
  }
  std::vector<json> all() {
    std::lock_guard lock(m_mutex);
    return m_lines;
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<json> m_lines;
};

const json k_envelope = {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                         {"io.modelcontextprotocol/clientInfo", {{"name", "test-client"}, {"version", "9"}}},
                         {"io.modelcontextprotocol/clientCapabilities", json::object()}};

std::string request(int id, const std::string& method, json params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}.dump();
}

} // namespace

TEST_CASE("Server, initialize: the version asked for if spoken, else the newest; tools only") {
  FakeTools tools;
  Collect out;
  Server server(tools, out);
  server.receive(request(1, "initialize", {{"protocolVersion", "2025-03-26"}, {"capabilities", json::object()},
                                           {"clientInfo", {{"name", "claude-code"}, {"version", "2.1"}}}}));
  auto r = out.reply(1)["result"];
  CHECK(r["protocolVersion"] == "2025-03-26");
  CHECK(r["capabilities"] == json{{"tools", {{"listChanged", false}}}});
  CHECK(r["serverInfo"]["name"] == "sandpit");
  server.receive(request(2, "initialize", {{"protocolVersion", "1999-01-01"}}));
  CHECK(out.reply(2)["result"]["protocolVersion"] == "2025-11-25");
  server.receive(request(3, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}}));
  CHECK(out.reply(3)["result"]["content"][0]["text"] == "hi");
  CHECK(tools.last_client == "claude-code 2.1");
  server.receive(request(4, "ping"));
  CHECK(out.reply(4)["result"] == json::object());
  CHECK_FALSE(out.reply(4)["result"].contains("resultType"));
}

TEST_CASE("Server, 2026-07-28: discover, stamped results, the envelope checked on every request") {
  FakeTools tools;
  Collect out;
  Server server(tools, out);
  server.receive(request(1, "server/discover", {{"_meta", k_envelope}}));
  auto r = out.reply(1)["result"];
  CHECK(r["supportedVersions"] == json::array({"2026-07-28"}));
  CHECK(r["resultType"] == "complete");
  CHECK(r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "sandpit");
  server.receive(request(2, "tools/list", {{"_meta", k_envelope}}));
  r = out.reply(2)["result"];
  CHECK(r["tools"][0]["name"] == "echo");
  CHECK(r["ttlMs"] == 0);
  CHECK(r["cacheScope"] == "private");
  server.receive(request(3, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "x"}}}, {"_meta", k_envelope}}));
  CHECK(out.reply(3)["result"]["resultType"] == "complete");
  CHECK(tools.last_client == "test-client 9");

  auto other = k_envelope;
  other["io.modelcontextprotocol/protocolVersion"] = "2099-01-01";
  server.receive(request(4, "tools/list", {{"_meta", other}}));
  auto e = out.reply(4)["error"];
  CHECK(e["code"] == -32022);
  CHECK(e["message"] == "Unsupported protocol version: 2099-01-01");
  CHECK(e["data"] == json{{"supported", {"2026-07-28"}}, {"requested", "2099-01-01"}});
  auto partial = k_envelope;
  partial.erase("io.modelcontextprotocol/clientCapabilities");
  server.receive(request(5, "tools/list", {{"_meta", partial}}));
  CHECK(out.reply(5)["error"]["code"] == -32602);
  server.receive(request(6, "ping", {{"_meta", k_envelope}}));
  CHECK(out.reply(6)["error"]["code"] == -32601); // no ping in this era
}

TEST_CASE("Server, malformed input: error responses, and the server keeps going") {
  FakeTools tools;
  Collect out;
  Server server(tools, out);
  server.receive("{not json");
  CHECK(out.wait([](const json& m) { return m.contains("error") && m["error"]["code"] == -32700; })["id"].is_null());
  server.receive(R"({"jsonrpc":"1.0","id":7,"method":"ping"})");
  CHECK(out.reply(7)["error"]["code"] == -32600);
  server.receive(request(8, "resources/list"));
  CHECK(out.reply(8)["error"]["message"] == "Method not found: resources/list");
  server.receive(R"({"jsonrpc":"2.0","id":9,"method":"tools/list","params":[1]})");
  CHECK(out.reply(9)["error"]["code"] == -32602);
  server.receive(request(10, "tools/call", {{"name", "nope"}}));
  CHECK(out.reply(10)["error"]["code"] == -32602);
  server.receive(request(11, "tools/call", {{"name", "echo"}, {"arguments", "text"}}));
  CHECK(out.reply(11)["error"]["code"] == -32602);
  server.receive(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  server.receive(R"({"jsonrpc":"2.0","id":99,"result":{}})"); // a response to nothing we asked: ignored
  server.receive("[]");
  server.receive(R"([{"jsonrpc":"2.0","id":12,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":13,"method":"nope"}])");
  auto batch = out.wait([](const json& m) { return m.is_array(); });
  REQUIRE(batch.size() == 2);
  CHECK(batch[0]["id"] == 12);
  CHECK(batch[1]["error"]["code"] == -32601);
  server.receive(request(14, "ping"));
  CHECK(out.reply(14)["result"] == json::object());
  // Every line out is one JSON-RPC message or a batch of them; notifications got no answer.
  for (const auto& m : out.all()) CHECK((m.is_array() || m["jsonrpc"] == "2.0"));
  CHECK(out.all().size() == 9);
}

TEST_CASE("Server, notifications/cancelled: the call is interrupted and gets no response") {
  FakeTools tools;
  Collect out;
  Server server(tools, out);
  server.receive(request(1, "tools/call", {{"name", "block"}}));
  server.receive(request(2, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "other lane"}, {"session", "b"}}}}));
  CHECK(out.reply(2)["result"]["content"][0]["text"] == "other lane"); // not behind the blocked one
  server.receive(request(3, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "same lane"}}}}));
  CHECK(out.reply(3, 300ms).is_null()); // waits its turn behind call 1
  server.receive(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"user abort"}})");
  CHECK(out.reply(3)["result"]["content"][0]["text"] == "same lane");
  CHECK(out.reply(1, 300ms).is_null());
  server.receive(request(1, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "id reused"}}}}));
  CHECK(out.reply(1)["result"]["content"][0]["text"] == "id reused");
}

TEST_CASE("Server, progress: notifications with the token, the time and the last output line, never after the response") {
  FakeTools tools;
  Collect out;
  ServerOptions options;
  options.progress_interval = 100ms;
  Server server(tools, out, options);
  server.receive(request(5, "tools/call", {{"name", "block"}, {"_meta", {{"progressToken", "tok"}}}}));
  auto is_progress = [](const json& m) { return m.is_object() && m.value("method", "") == "notifications/progress"; };
  std::vector<json> progress;
  for (const auto& m : out.wait_count(is_progress, 2)) progress.push_back(m["params"]);
  REQUIRE(progress.size() >= 2);
  CHECK(progress[0]["progressToken"] == "tok");
  CHECK(progress[1]["progress"].get<double>() > progress[0]["progress"].get<double>());
  CHECK(progress[0]["message"].get<std::string>().find("step two") != std::string::npos);
  server.receive(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}})");
}

TEST_CASE("Server::close, running calls finish within the drain, then the rest are cancelled") {
  FakeTools tools;
  Collect out;
  ServerOptions options;
  options.drain = 200ms;
  options.cancel_grace = 2000ms;
  Server server(tools, out, options);
  server.receive(request(1, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "quick"}}}}));
  server.receive(request(2, "tools/call", {{"name", "block"}, {"arguments", {{"session", "slow"}}}}));
  const auto start = std::chrono::steady_clock::now();
  CHECK(server.close());
  CHECK(std::chrono::steady_clock::now() - start < 1500ms);
  CHECK(out.reply(1, 0ms)["result"]["content"][0]["text"] == "quick");
  CHECK(out.reply(2, 0ms).is_null());
}

TEST_CASE("Server, hostile shapes: deep nesting, a duplicate id in flight, more calls than it takes") {
  FakeTools tools;
  Collect out;
  Server server(tools, out);
  const std::string deep = R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  server.receive(deep);
  auto refused = out.wait([](const json& m) { return m.contains("error"); });
  CHECK(refused["error"]["message"] == "Invalid Request: nested deeper than 64 levels");
  CHECK(refused["id"].is_null());
  server.receive(R"({"jsonrpc":"2.0","id":2,"method":"ping","params":{"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}})");
  CHECK(out.reply(2)["result"] == json::object()); // brackets inside a string are text

  server.receive(request(3, "tools/call", {{"name", "block"}}));
  server.receive(request(3, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "twin"}}}}));
  auto twin = out.wait([](const json& m) { return m.contains("error") && m["error"]["code"] == -32600 && m["id"].is_null() &&
                                                   m["error"]["message"].get<std::string>().find("id 3") != std::string::npos; });
  CHECK_FALSE(twin.is_null()); // answered without the id, which still belongs to the call in flight
  for (int i = 0; i < 63; ++i) server.receive(request(100 + i, "tools/call", {{"name", "block"}, {"arguments", {{"session", std::to_string(i)}}}}));
  server.receive(request(200, "tools/call", {{"name", "echo"}}));
  CHECK(out.reply(200)["error"]["code"] == -32000);
  for (int i = 0; i < 63; ++i) server.receive(json{{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"requestId", 100 + i}}}}.dump());
  server.receive(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}})");
}
