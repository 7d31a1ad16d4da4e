#include "multipart.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace sandpit::serve {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The parameters of a header value: `form-data; name="file"; filename="/a b"` -> {name: file, filename: /a b}.
std::vector<std::pair<std::string, std::string>> parameters(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    const auto eq = value.find('=', i);
    if (eq == std::string_view::npos) break;
    auto key = lower(trim(value.substr(i, eq - i)));
    std::string v;
    std::size_t j = eq + 1;
    if (j < value.size() && value[j] == '"') {
      for (++j; j < value.size() && value[j] != '"'; ++j) {
        if (value[j] == '\\' && j + 1 < value.size()) ++j;
        v.push_back(value[j]);
      }
      ++j;
    } else {
      const auto end = value.find(';', j);
      v = std::string(trim(value.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)));
      j = end == std::string_view::npos ? value.size() : end;
    }
    out.emplace_back(std::move(key), std::move(v));
    i = value.find(';', j);
  }
  return out;
}

// RFC 5987: utf-8''%2Fhome%2Fuser%2Fa.txt
std::string ext_value(std::string_view v) {
  const auto quote = v.find("''");
  if (quote == std::string_view::npos) return std::string(v);
  std::string out;
  for (std::size_t i = quote + 2; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && std::isxdigit(static_cast<unsigned char>(v[i + 1])) && std::isxdigit(static_cast<unsigned char>(v[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

} // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  if (lower(content_type).rfind("multipart/", 0) != 0) return std::nullopt;
  for (const auto& [key, value] : parameters(content_type)) {
    if (key == "boundary" && !value.empty() && value.size() <= 200) return value;
  }
  return std::nullopt;
}

std::vector<Part> parse_multipart(std::string_view body, std::string_view boundary, std::size_t max_parts) {
  const std::string delimiter = "--" + std::string(boundary);
  std::vector<Part> parts;
  // The first delimiter may open the body or follow a preamble.
  std::size_t at = body.rfind(delimiter, 0) == 0 ? 0 : body.find("\r\n" + delimiter);
  if (at == std::string_view::npos) throw MultipartError("no multipart boundary in the body");
  at += (at == 0 ? 0 : 2) + delimiter.size();
  const std::string next = "\r\n" + delimiter;
  while (true) {
    if (body.substr(at, 2) == "--") return parts; // the closing delimiter
    const auto line_end = body.find("\r\n", at);
    if (line_end == std::string_view::npos) throw MultipartError("a multipart delimiter is not followed by a line end");
    const auto headers_end = body.find("\r\n\r\n", line_end);
    if (headers_end == std::string_view::npos) throw MultipartError("a multipart part has no end of headers");
    Part part;
    std::size_t h = line_end + 2;
    while (h < headers_end + 2) {
      const auto eol = body.find("\r\n", h);
      const auto line = body.substr(h, eol - h);
      h = eol + 2;
      const auto colon = line.find(':');
      if (colon == std::string_view::npos || lower(trim(line.substr(0, colon))) != "content-disposition") continue;
      for (const auto& [key, value] : parameters(line.substr(colon + 1))) {
        if (key == "name") part.name = value;
        else if (key == "filename" && part.filename.empty()) part.filename = value;
        else if (key == "filename*") part.filename = ext_value(value);
      }
    }
    const auto content = headers_end + 4;
    const auto end = body.find(next, content);
    if (end == std::string_view::npos) throw MultipartError("a multipart part is not closed by its boundary");
    part.offset = content;
    part.size = end - content;
    if (parts.size() >= max_parts) throw MultipartError("too many parts in the multipart body");
    parts.push_back(std::move(part));
    at = end + next.size();
  }
}

} // namespace sandpit::serve
