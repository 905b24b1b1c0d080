// The HTTP check's response reader for the native checker (tcp_connect.cc): the same rules as
// src/check/http-response.ts (status line, Content-Length, chunked transfer, body to the end of the
// connection, interim 1xx skipped, head and body size limits), the verdict on the status ranges and
// the MD5 of the decoded body as keepalived's genhash computes it. No I/O: bytes in, verdict out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ipvsd {

// RFC 1321 MD5, incremental.
class Md5 {
 public:
  Md5() { Reset(); }
  void Reset();
  void Update(const uint8_t* data, size_t length);
  void Final(uint8_t out[16]);

 private:
  void Block(const uint8_t* block);
  uint32_t state_[4];
  uint64_t length_;
  uint8_t buffer_[64];
  size_t buffered_;
};

// Verdict codes, shared with src/sys/tcp-connect.ts (there as HTTP_* constants).
constexpr double kHttpOk = 0;                    // detail: the status
constexpr double kHttpStatusMismatch = -2;       // detail: the status
constexpr double kHttpDigestMismatch = -3;       // detail: the status; the digest follows
constexpr double kHttpMalformed = -4;            // malformed HTTP response
constexpr double kHttpHeadTooLarge = -5;         // HTTP response headers too large
constexpr double kHttpClosedBeforeResponse = -6;
constexpr double kHttpClosedInBody = -7;
constexpr double kHttpBodyTooLarge = -8;

// Longest head read before giving up (as HEAD_LIMIT in http-response.ts), longest chunk-size
// line, and the most body bytes read (BODY_LIMIT there).
constexpr size_t kHeadLimit = 16384;
constexpr size_t kLineLimit = 1024;
constexpr uint64_t kBodyLimit = 4 * 1024 * 1024;

class HttpResponseReader {
 public:
  // `ranges`: status min, max pairs; `digest`: the expected MD5, or null for none.
  HttpResponseReader(std::vector<int32_t> ranges, const uint8_t* digest);

  void Push(const char* data, size_t length);
  // The connection ended (FIN).
  void Eof();

  bool done() const { return done_; }
  double code() const { return code_; }
  int status() const { return status_; }
  // True once the head was judged and the body is being read.
  bool in_body() const { return state_ != State::kHead && state_ != State::kDone; }
  // The body's MD5, valid after a kHttpDigestMismatch verdict.
  const uint8_t* digest() const { return actual_; }

 private:
  enum class State : uint8_t { kHead, kLength, kChunkSize, kChunkData, kUntilClose, kDone };

  void Head(const std::string& head);
  void Body(const char* data, size_t length);
  void End();
  void Fail(double code);

  std::vector<int32_t> ranges_;
  bool want_digest_;
  uint8_t expected_[16];
  uint8_t actual_[16] = {};
  Md5 md5_;
  State state_ = State::kHead;
  std::string pending_;
  uint64_t remaining_ = 0;
  uint64_t body_bytes_ = 0;
  bool after_chunk_ = false;
  bool done_ = false;
  double code_ = 0;
  int status_ = 0;
};

}  // namespace ipvsd
