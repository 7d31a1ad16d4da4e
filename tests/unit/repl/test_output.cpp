#include "sandpit/repl/output.hpp"

#include <doctest/doctest.h>
#include <map>

using namespace sandpit::repl;

namespace {
ImageProtocol detect(std::map<std::string, std::string> env) {
  return detect_image_protocol([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}
} // namespace

TEST_CASE("detect_image_protocol, from the environment, never inside tmux or screen") {
  CHECK(detect({{"TERM", "xterm-256color"}}) == ImageProtocol::none);
  CHECK(detect({{"TERM", "xterm-kitty"}}) == ImageProtocol::kitty);
  CHECK(detect({{"KITTY_WINDOW_ID", "1"}}) == ImageProtocol::kitty);
  CHECK(detect({{"TERM_PROGRAM", "iTerm.app"}}) == ImageProtocol::iterm);
  CHECK(detect({{"TERM_PROGRAM", "WezTerm"}}) == ImageProtocol::iterm);
  CHECK(detect({{"TERM", "xterm-kitty"}, {"TMUX", "/tmp/tmux-0/default,1,0"}}) == ImageProtocol::none);
  CHECK(detect({{"TERM_PROGRAM", "iTerm.app"}, {"STY", "1.pts"}}) == ImageProtocol::none);
}

TEST_CASE("inline_image, the protocols' sequences, and nothing for data that is not base64") {
  CHECK(inline_image(ImageProtocol::iterm, "iVBORw0KGgo=") == "\x1b]1337;File=inline=1;size=9:iVBORw0KGgo=\a\n");
  CHECK(inline_image(ImageProtocol::kitty, "iVBORw0KGgo=") == "\x1b_Ga=T,f=100,m=0;iVBORw0KGgo=\x1b\\\n");
  std::string big(5000, 'A');
  auto kitty = inline_image(ImageProtocol::kitty, big);
  CHECK(kitty.find("\x1b_Ga=T,f=100,m=1;") == 0);
  CHECK(kitty.find("\x1b_Gm=0;" + std::string(904, 'A') + "\x1b\\") != std::string::npos);
  CHECK(inline_image(ImageProtocol::none, "iVBORw0KGgo=").empty());
  CHECK(inline_image(ImageProtocol::iterm, "abc\x07\x1b]0;x").empty());
  CHECK(inline_image(ImageProtocol::kitty, "").empty());
}
