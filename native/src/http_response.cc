// See http_response.h. Keep the rules in step with src/check/http-response.ts: a server must get
// the same verdict from the native checker and from the JavaScript one.
#include "http_response.h"

#include <cmath>
#include <cstring>

namespace ipvsd {
namespace {

// RFC 1321: K[i] = floor(|sin(i + 1)| * 2^32), and the per-round shift amounts.
struct Md5Tables {
  uint32_t k[64];
  Md5Tables() {
    for (int i = 0; i < 64; i++) k[i] = static_cast<uint32_t>(std::floor(std::fabs(std::sin(i + 1.0)) * 4294967296.0));
  }
};
const Md5Tables kMd5;
constexpr int kShift[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

inline uint32_t Rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string Trim(const std::string& s, size_t from, size_t to) {
  while (from < to && IsSpace(s[from])) from++;
  while (to > from && IsSpace(s[to - 1])) to--;
  return s.substr(from, to - from);
}

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool AllDigits(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void Md5::Reset() {
  state_[0] = 0x67452301;
  state_[1] = 0xefcdab89;
  state_[2] = 0x98badcfe;
  state_[3] = 0x10325476;
  length_ = 0;
  buffered_ = 0;
}

void Md5::Block(const uint8_t* block) {
  uint32_t m[16];
  for (int i = 0; i < 16; i++)
    m[i] = static_cast<uint32_t>(block[i * 4]) | (static_cast<uint32_t>(block[i * 4 + 1]) << 8) |
           (static_cast<uint32_t>(block[i * 4 + 2]) << 16) | (static_cast<uint32_t>(block[i * 4 + 3]) << 24);
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  for (int i = 0; i < 64; i++) {
    uint32_t f;
    int g;
    const int round = i / 16;
    if (round == 0) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (round == 1) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) % 16;
    } else if (round == 2) {
      f = b ^ c ^ d;
      g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) % 16;
    }
    f = f + a + kMd5.k[i] + m[g];
    a = d;
    d = c;
    c = b;
    b = b + Rotl(f, kShift[round][i % 4]);
  }
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
}

void Md5::Update(const uint8_t* data, size_t length) {
  length_ += length;
  if (buffered_ > 0) {
    const size_t take = std::min(length, 64 - buffered_);
    std::memcpy(buffer_ + buffered_, data, take);
    buffered_ += take;
    data += take;
    length -= take;
    if (buffered_ < 64) return;
    Block(buffer_);
    buffered_ = 0;
  }
  while (length >= 64) {
    Block(data);
    data += 64;
    length -= 64;
  }
  std::memcpy(buffer_, data, length);
  buffered_ = length;
}

void Md5::Final(uint8_t out[16]) {
  const uint64_t bits = length_ * 8;
  const uint8_t one = 0x80;
  const uint8_t zero = 0;
  Update(&one, 1);
  while (buffered_ != 56) Update(&zero, 1);
  uint8_t tail[8];
  for (int i = 0; i < 8; i++) tail[i] = static_cast<uint8_t>(bits >> (8 * i));
  Update(tail, 8);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) out[i * 4 + j] = static_cast<uint8_t>(state_[i] >> (8 * j));
}

HttpResponseReader::HttpResponseReader(std::vector<int32_t> ranges, const uint8_t* digest)
    : ranges_(std::move(ranges)), want_digest_(digest != nullptr) {
  if (digest != nullptr) std::memcpy(expected_, digest, 16);
}

void HttpResponseReader::Push(const char* data, size_t length) {
  while (length > 0 && state_ != State::kDone) {
    switch (state_) {
      case State::kHead: {
        // The head may end in this piece: search from where an earlier piece could have left
        // the first bytes of the blank line.
        const size_t old = pending_.size();
        pending_.append(data, length);
        const size_t end = pending_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
        if (end == std::string::npos) {
          if (pending_.size() > kHeadLimit) Fail(kHttpHeadTooLarge);
          return;
        }
        const size_t used = end + 4 - old;
        data += used;
        length -= used;
        pending_.resize(end);
        const std::string head = std::move(pending_);
        pending_.clear();
        Head(head);
        break;
      }
      case State::kLength:
      case State::kChunkData: {
        const size_t take = remaining_ < length ? static_cast<size_t>(remaining_) : length;
        Body(data, take);
        if (state_ == State::kDone) return;
        remaining_ -= take;
        data += take;
        length -= take;
        if (remaining_ == 0) {
          if (state_ == State::kLength) {
            End();
          } else {
            state_ = State::kChunkSize;
            after_chunk_ = true;
          }
        }
        break;
      }
      case State::kChunkSize: {
        const size_t old = pending_.size();
        pending_.append(data, length);
        const size_t eol = pending_.find("\r\n", old >= 1 ? old - 1 : 0);
        if (eol == std::string::npos) {
          if (pending_.size() > kLineLimit) Fail(kHttpMalformed);
          return;
        }
        const size_t used = eol + 2 - old;
        data += used;
        length -= used;
        pending_.resize(eol);
        const std::string line = std::move(pending_);
        pending_.clear();
        if (after_chunk_) {
          after_chunk_ = false;
          if (!line.empty()) Fail(kHttpMalformed);
          break;
        }
        const size_t semicolon = line.find(';');
        const std::string size = Trim(line, 0, semicolon == std::string::npos ? line.size() : semicolon);
        if (size.empty() || size.size() > 12) {
          Fail(kHttpMalformed);
          break;
        }
        uint64_t value = 0;
        for (char c : size) {
          const int v = HexValue(c);
          if (v < 0) {
            Fail(kHttpMalformed);
            return;
          }
          value = value * 16 + static_cast<uint64_t>(v);
        }
        remaining_ = value;
        // The last chunk: trailers, if any, change nothing a check looks at.
        if (remaining_ == 0) End();
        else state_ = State::kChunkData;
        break;
      }
      case State::kUntilClose:
        Body(data, length);
        return;
      case State::kDone:
        return;
    }
  }
}

void HttpResponseReader::Eof() {
  if (state_ == State::kDone) return;
  if (state_ == State::kUntilClose) End();
  else Fail(state_ == State::kHead ? kHttpClosedBeforeResponse : kHttpClosedInBody);
}

void HttpResponseReader::Head(const std::string& head) {
  // Status line: HTTP/1.0 or HTTP/1.1, a space, three digits, then a space or the end.
  const size_t first_end = head.find("\r\n");
  const std::string first = head.substr(0, first_end);
  if (first.size() < 12 || first.compare(0, 7, "HTTP/1.") != 0 || (first[7] != '0' && first[7] != '1') ||
      first[8] != ' ' || !AllDigits(first.substr(9, 3), 3) || (first.size() > 12 && first[12] != ' ')) {
    Fail(kHttpMalformed);
    return;
  }
  const int code = std::stoi(first.substr(9, 3));
  // An interim response (100 Continue, 103 Early Hints): the real one follows.
  if (code >= 100 && code < 200 && code != 101) return;
  bool have_length = false;
  uint64_t length = 0;
  bool chunked = false;
  size_t at = first_end == std::string::npos ? head.size() : first_end + 2;
  while (at < head.size()) {
    size_t eol = head.find("\r\n", at);
    if (eol == std::string::npos) eol = head.size();
    const size_t colon = head.find(':', at);
    if (colon != std::string::npos && colon > at && colon < eol) {
      const std::string name = Lower(Trim(head, at, colon));
      if (name == "content-length") {
        const std::string value = Trim(head, colon + 1, eol);
        if (!AllDigits(value, 15)) {
          Fail(kHttpMalformed);
          return;
        }
        const uint64_t n = std::stoull(value);
        if (have_length && n != length) {
          Fail(kHttpMalformed);
          return;
        }
        have_length = true;
        length = n;
      } else if (name == "transfer-encoding") {
        const std::string value = Lower(Trim(head, colon + 1, eol));
        const size_t comma = value.rfind(',');
        chunked = Trim(value, comma == std::string::npos ? 0 : comma + 1, value.size()) == "chunked";
      }
    }
    at = eol + 2;
  }
  status_ = code;
  bool matches = false;
  for (size_t i = 0; i + 1 < ranges_.size(); i += 2)
    if (code >= ranges_[i] && code <= ranges_[i + 1]) matches = true;
  if (!matches) {
    Fail(kHttpStatusMismatch);
    return;
  }
  if (code == 204 || code == 304) {
    End();
  } else if (chunked) {
    state_ = State::kChunkSize;
  } else if (have_length) {
    remaining_ = length;
    if (length == 0) End();
    else state_ = State::kLength;
  } else {
    state_ = State::kUntilClose;
  }
}

void HttpResponseReader::Body(const char* data, size_t length) {
  if (length == 0) return;
  body_bytes_ += length;
  if (body_bytes_ > kBodyLimit) {
    Fail(kHttpBodyTooLarge);
    return;
  }
  if (want_digest_) md5_.Update(reinterpret_cast<const uint8_t*>(data), length);
}

void HttpResponseReader::End() {
  state_ = State::kDone;
  done_ = true;
  code_ = kHttpOk;
  if (!want_digest_) return;
  md5_.Final(actual_);
  if (std::memcmp(actual_, expected_, 16) != 0) code_ = kHttpDigestMismatch;
}

void HttpResponseReader::Fail(double code) {
  state_ = State::kDone;
  done_ = true;
  code_ = code;
}

}  // namespace ipvsd
