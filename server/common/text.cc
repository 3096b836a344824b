#include "server/common/text.h"

#include "absl/strings/ascii.h"

namespace orderquery::text {

std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  return out;
}

std::string TruncateUtf8(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut));
}

std::string CleanUtf8(absl::string_view text, size_t max_bytes, absl::string_view ellipsis) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = 1;
    if (c >= 0xF0) {
      len = 4;
    } else if (c >= 0xE0) {
      len = 3;
    } else if (c >= 0xC0) {
      len = 2;
    }
    if (i + len > text.size() || out.size() + len > max_bytes) break;
    if (len == 1 && (c < 0x20 || c == 0x7F)) {
      out.push_back(' ');
    } else if (len == 1 && c >= 0x80) {
      out.push_back('?');  // a stray continuation byte
    } else {
      out.append(text.data() + i, len);
    }
    i += len;
  }
  if (i < text.size()) out.append(ellipsis.data(), ellipsis.size());
  return out;
}

}  // namespace orderquery::text
