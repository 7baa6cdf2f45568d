// DNS wire format (RFC 1035 section 4, RFC 6891 for EDNS0): a checked parser
// that turns untrusted bytes into a Message or an error value, and an encoder
// that builds ferry-dns's own answers.
//
// How it works:
//  - parse() reads the 12-byte header, then every section. Names are read
//    label by label, following compression pointers (RFC 1035 4.1.4) only
//    backwards and at most kMaxPointerHops times, so a loop cannot hang it;
//    labels are at most 63 octets and a name at most 255 (RFC 1035 2.3.4).
//    Record data is kept as raw bytes: ferry-dns never rewrites answers it
//    relays, it only needs the question and the OPT record.
//  - The OPT pseudo-record (RFC 6891 6.1) is lifted out of the additional
//    section into Message::edns; two OPT records, or one with a non-root
//    owner, are FORMERR (RFC 6891 6.1.1).
//  - Encoder writes names with compression (the offsets of the labels already
//    written; a suffix is compared case-insensitively against the bytes
//    there, RFC 1035 4.1.4) and builds a
//    response; if it does not fit the client's limit (512 octets, RFC 1035
//    4.2.1, or the EDNS0 payload size, RFC 6891 6.2.5) the answer is replaced
//    by header + question (+ OPT) with TC set (RFC 2181 9).
// Nothing here throws on bad input and nothing here touches a socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ferry::dns {

using Bytes = std::vector<uint8_t>;

// Record types and classes used by ferry-dns (RFC 1035 3.2.2, RFC 3596, RFC 6891).
namespace rrtype {
inline constexpr uint16_t A = 1;
inline constexpr uint16_t NS = 2;
inline constexpr uint16_t CNAME = 5;
inline constexpr uint16_t SOA = 6;
inline constexpr uint16_t PTR = 12;
inline constexpr uint16_t MX = 15;
inline constexpr uint16_t TXT = 16;
inline constexpr uint16_t AAAA = 28;
inline constexpr uint16_t OPT = 41;
inline constexpr uint16_t ANY = 255;
}  // namespace rrtype
inline constexpr uint16_t kClassIN = 1;

enum class Rcode : uint8_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
};
// Extended RCODE BADVERS (RFC 6891 6.1.3): upper 8 bits go in the OPT TTL.
inline constexpr uint16_t kRcodeBadVers = 16;

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxLabel = 63;            // RFC 1035 2.3.4
inline constexpr size_t kMaxName = 255;            // RFC 1035 2.3.4, wire octets
inline constexpr size_t kMaxUdpPlain = 512;        // RFC 1035 4.2.1
inline constexpr size_t kMaxPointerHops = 64;
inline constexpr uint16_t kOurEdnsPayload = 1232;  // advertised in our OPT

enum class WireError {
  short_header,     // fewer than 12 octets
  truncated,        // a section runs past the end of the message
  label_too_long,   // label length octet 64..191 or > 63
  name_too_long,    // more than 255 octets
  bad_pointer,      // compression pointer forward or out of range
  pointer_loop,     // too many pointer hops
  bad_label_type,   // 0x40/0x80 label types (RFC 6891 5: extended labels)
  bad_opt,          // OPT not in additional, owner not root, or twice
};
const char* to_string(WireError e);

// A domain name as a list of labels (raw octets, no escaping), root = empty.
struct Name {
  std::vector<std::string> labels;

  // Presentation form with a trailing dot; '.' and '\' inside labels and
  // non-printable octets are escaped (RFC 1035 5.1).
  std::string to_text() const;
  // Lower-cased dotted form without trailing dot, for lookups (DNS names
  // compare case-insensitively, RFC 1035 2.3.3, RFC 4343). Labels holding a
  // '.' are not representable this way and yield std::nullopt.
  std::optional<std::string> lookup_key() const;
  // Parses "a.b.c" or "a.b.c." (no escapes); empty or "." is the root.
  static std::optional<Name> from_text(std::string_view s);
  size_t wire_size() const;
  bool equals_ignore_case(const Name& o) const;
};

struct Header {
  uint16_t id = 0;
  bool qr = false;
  uint8_t opcode = 0;
  bool aa = false, tc = false, rd = false, ra = false, ad = false, cd = false;
  uint8_t rcode = 0;  // low 4 bits
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
};

struct Question {
  Name name;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

struct Record {
  Name name;
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  Bytes rdata;  // raw, as received (names inside may be compressed)
};

// RFC 6891 6.1.2/6.1.3: the OPT record's fields.
struct Edns {
  uint16_t udp_payload = 512;
  uint8_t ext_rcode = 0;
  uint8_t version = 0;
  bool dnssec_ok = false;
  Bytes options;  // raw option list, passed through as is
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Record> answers, authority, additional;  // additional without OPT
  std::optional<Edns> edns;
};

// The outcome of a checked parse: a value or an error, never an exception.
template <class T>
class Parsed {
 public:
  Parsed(T v) : v_(std::move(v)) {}                // NOLINT: implicit by design
  Parsed(WireError e) : v_(e) {}                   // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const { return std::get<T>(v_); }
  T& value() { return std::get<T>(v_); }
  WireError error() const { return std::get<WireError>(v_); }

 private:
  std::variant<T, WireError> v_;
};

// Only the header (for an ID to put in a FORMERR, or to match an upstream reply).
Parsed<Header> parse_header(std::span<const uint8_t> msg);
// The whole message.
Parsed<Message> parse(std::span<const uint8_t> msg);

// One record of ferry-dns's own answers.
struct LocalRecord {
  Name owner;
  uint16_t type = 0;  // A, AAAA or PTR
  uint32_t ttl = 0;
  Bytes address;      // A: 4 octets, AAAA: 16
  Name target;        // PTR
};

// Writes a message with name compression.
class Encoder {
 public:
  void header(const Header& h);
  void name(const Name& n);  // compressed where a suffix was written before
  void u16(uint16_t v);
  void u32(uint32_t v);
  void bytes(std::span<const uint8_t> b);
  void question(const Question& q);
  void local_record(const LocalRecord& r);
  void opt(const Edns& e);
  size_t size() const { return buf_.size(); }
  Bytes take() { return std::move(buf_); }

 private:
  // Is the name written at `off` equal to n.labels[from..], ignoring case?
  bool written_equals(size_t off, const Name& n, size_t from) const;

  Bytes buf_;
  std::vector<uint16_t> written_;  // offsets of every label written (each starts a suffix)
};

// Largest UDP response the client accepts (RFC 6891 6.2.5: at least 512).
size_t udp_limit(const Message& query);

// A response to `query` carrying `answers` (AA set when `authoritative`).
// If `query` had an OPT record, the response has one too (RFC 6891 7).
// When the result exceeds `limit`, the answers are dropped and TC is set.
Bytes build_response(const Message& query, Rcode rcode, bool authoritative,
                     std::span<const LocalRecord> answers, size_t limit);

// The reply to a message whose header could be read but whose body could not
// (FORMERR, RFC 1035 4.1.1): same ID and opcode, QR set, no sections.
Bytes build_error_from_header(const Header& query_header, Rcode rcode);

// A message relayed from upstream that is too long for the client's UDP
// limit: header and question of `reply` with TC set (RFC 2181 9).
Bytes truncate_relayed(const Message& query, std::span<const uint8_t> reply);

// Builds a query (used by tests and the fuzz corpus generator).
Bytes build_query(uint16_t id, const Name& name, uint16_t qtype, bool rd,
                  std::optional<Edns> edns = std::nullopt);

}  // namespace ferry::dns
