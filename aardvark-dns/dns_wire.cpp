// DNS wire format: parse and emit. See dns_wire.hpp for the theory of
// operation; every bound check is done by Reader before a byte is read.
#include "dns_wire.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace ferry::dns {

const char* to_string(WireError e) {
  switch (e) {
    case WireError::short_header: return "message shorter than a header";
    case WireError::truncated: return "message truncated";
    case WireError::label_too_long: return "label longer than 63 octets";
    case WireError::name_too_long: return "name longer than 255 octets";
    case WireError::bad_pointer: return "bad compression pointer";
    case WireError::pointer_loop: return "compression pointer loop";
    case WireError::bad_label_type: return "unsupported label type";
    case WireError::bad_opt: return "malformed OPT record";
  }
  return "unknown error";
}

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string lower_str(std::string s) {
  for (auto& c : s) c = lower(c);
  return s;
}

bool iequal(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// Bounds-checked cursor over untrusted bytes.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> m) : m_(m) {}
  bool has(size_t n) const { return pos_ <= m_.size() && m_.size() - pos_ >= n; }
  size_t pos() const { return pos_; }
  bool u8(uint8_t& v) {
    if (!has(1)) return false;
    v = m_[pos_++];
    return true;
  }
  bool u16(uint16_t& v) {
    if (!has(2)) return false;
    v = static_cast<uint16_t>((m_[pos_] << 8) | m_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& v) {
    if (!has(4)) return false;
    v = (uint32_t{m_[pos_]} << 24) | (uint32_t{m_[pos_ + 1]} << 16) | (uint32_t{m_[pos_ + 2]} << 8) |
        m_[pos_ + 3];
    pos_ += 4;
    return true;
  }
  bool bytes(size_t n, Bytes& out) {
    if (!has(n)) return false;
    out.assign(m_.begin() + static_cast<std::ptrdiff_t>(pos_),
               m_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }

  // RFC 1035 4.1.4: a name is labels ending in a zero octet or a pointer.
  // Pointers must point strictly before the place they are read from, which
  // together with the hop limit rules out loops.
  std::optional<WireError> name(Name& out) {
    out.labels.clear();
    size_t p = pos_;
    size_t wire = 1;  // the final zero octet
    size_t hops = 0;
    bool jumped = false;
    for (;;) {
      if (p >= m_.size()) return WireError::truncated;
      uint8_t len = m_[p];
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= m_.size()) return WireError::truncated;
        size_t target = (size_t{len & 0x3Fu} << 8) | m_[p + 1];
        if (target >= p) return WireError::bad_pointer;
        if (++hops > kMaxPointerHops) return WireError::pointer_loop;
        if (!jumped) pos_ = p + 2;
        jumped = true;
        p = target;
        continue;
      }
      if ((len & 0xC0) != 0) return WireError::bad_label_type;
      if (len == 0) {
        if (!jumped) pos_ = p + 1;
        return std::nullopt;
      }
      if (len > kMaxLabel) return WireError::label_too_long;
      if (p + 1 + len > m_.size()) return WireError::truncated;
      wire += 1 + len;
      if (wire > kMaxName) return WireError::name_too_long;
      out.labels.emplace_back(reinterpret_cast<const char*>(&m_[p + 1]), len);
      p += 1 + len;
    }
  }

 private:
  std::span<const uint8_t> m_;
  size_t pos_ = 0;
};

Header decode_header(std::span<const uint8_t> m) {
  Header h;
  auto u16 = [&](size_t at) { return static_cast<uint16_t>((m[at] << 8) | m[at + 1]); };
  h.id = u16(0);
  uint8_t b2 = m[2], b3 = m[3];
  h.qr = b2 & 0x80;
  h.opcode = (b2 >> 3) & 0x0F;
  h.aa = b2 & 0x04;
  h.tc = b2 & 0x02;
  h.rd = b2 & 0x01;
  h.ra = b3 & 0x80;
  h.ad = b3 & 0x20;
  h.cd = b3 & 0x10;
  h.rcode = b3 & 0x0F;
  h.qdcount = u16(4);
  h.ancount = u16(6);
  h.nscount = u16(8);
  h.arcount = u16(10);
  return h;
}

std::optional<WireError> read_record(Reader& r, Record& rec) {
  if (auto e = r.name(rec.name)) return e;
  uint16_t rdlen = 0;
  if (!r.u16(rec.type) || !r.u16(rec.rclass) || !r.u32(rec.ttl) || !r.u16(rdlen))
    return WireError::truncated;
  if (!r.bytes(rdlen, rec.rdata)) return WireError::truncated;
  return std::nullopt;
}

}  // namespace

// ---- Name ----

std::string Name::to_text() const {
  if (labels.empty()) return ".";
  std::string s;
  for (const auto& l : labels) {
    for (unsigned char c : l) {
      if (c == '.' || c == '\\') {
        s += '\\';
        s += static_cast<char>(c);
      } else if (c < 0x21 || c > 0x7E) {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\%03u", c);
        s += buf;
      } else {
        s += static_cast<char>(c);
      }
    }
    s += '.';
  }
  return s;
}

std::optional<std::string> Name::lookup_key() const {
  std::string s;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].find('.') != std::string::npos) return std::nullopt;
    if (i) s += '.';
    s += lower_str(labels[i]);
  }
  return s;
}

std::optional<Name> Name::from_text(std::string_view s) {
  Name n;
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return n;
  size_t wire = 1;
  while (true) {
    size_t dot = s.find('.');
    std::string_view label = s.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabel) return std::nullopt;
    wire += 1 + label.size();
    if (wire > kMaxName) return std::nullopt;
    n.labels.emplace_back(label);
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  return n;
}

size_t Name::wire_size() const {
  size_t n = 1;
  for (const auto& l : labels) n += 1 + l.size();
  return n;
}

bool Name::equals_ignore_case(const Name& o) const {
  if (labels.size() != o.labels.size()) return false;
  for (size_t i = 0; i < labels.size(); ++i)
    if (!iequal(labels[i], o.labels[i])) return false;
  return true;
}

// ---- parse ----

Parsed<Header> parse_header(std::span<const uint8_t> msg) {
  if (msg.size() < kHeaderSize) return WireError::short_header;
  return decode_header(msg);
}

Parsed<Message> parse(std::span<const uint8_t> msg) {
  if (msg.size() < kHeaderSize) return WireError::short_header;
  Message m;
  m.header = decode_header(msg);
  Reader r(msg);
  Bytes skip;
  r.bytes(kHeaderSize, skip);
  // Each entry needs at least 5 (question) or 11 (record) octets; checking
  // the counts against the length first bounds the work on a hostile header.
  size_t rest = msg.size() - kHeaderSize;
  if (size_t{m.header.qdcount} * 5 > rest) return WireError::truncated;
  if ((size_t{m.header.ancount} + m.header.nscount + m.header.arcount) * 11 > rest)
    return WireError::truncated;

  m.questions.reserve(m.header.qdcount);
  for (unsigned i = 0; i < m.header.qdcount; ++i) {
    Question q;
    if (auto e = r.name(q.name)) return *e;
    if (!r.u16(q.qtype) || !r.u16(q.qclass)) return WireError::truncated;
    m.questions.push_back(std::move(q));
  }
  auto section = [&](unsigned count, std::vector<Record>& out, bool additional) -> std::optional<WireError> {
    for (unsigned i = 0; i < count; ++i) {
      Record rec;
      if (auto e = read_record(r, rec)) return e;
      if (rec.type == rrtype::OPT) {
        // RFC 6891 6.1.1: one OPT, in the additional section, owner root.
        if (!additional || m.edns || !rec.name.labels.empty()) return WireError::bad_opt;
        Edns e;
        e.udp_payload = rec.rclass;
        e.ext_rcode = static_cast<uint8_t>(rec.ttl >> 24);
        e.version = static_cast<uint8_t>(rec.ttl >> 16);
        e.dnssec_ok = rec.ttl & 0x8000;
        e.options = std::move(rec.rdata);
        m.edns = std::move(e);
        continue;
      }
      out.push_back(std::move(rec));
    }
    return std::nullopt;
  };
  if (auto e = section(m.header.ancount, m.answers, false)) return *e;
  if (auto e = section(m.header.nscount, m.authority, false)) return *e;
  if (auto e = section(m.header.arcount, m.additional, true)) return *e;
  // Trailing octets after the last record are ignored, as most servers do.
  return m;
}

// ---- emit ----

void Encoder::u16(uint16_t v) {
  buf_.push_back(static_cast<uint8_t>(v >> 8));
  buf_.push_back(static_cast<uint8_t>(v));
}

void Encoder::u32(uint32_t v) {
  u16(static_cast<uint16_t>(v >> 16));
  u16(static_cast<uint16_t>(v));
}

void Encoder::bytes(std::span<const uint8_t> b) { buf_.insert(buf_.end(), b.begin(), b.end()); }

void Encoder::header(const Header& h) {
  u16(h.id);
  uint8_t b2 = static_cast<uint8_t>((h.qr ? 0x80 : 0) | ((h.opcode & 0x0F) << 3) | (h.aa ? 0x04 : 0) |
                                    (h.tc ? 0x02 : 0) | (h.rd ? 0x01 : 0));
  uint8_t b3 = static_cast<uint8_t>((h.ra ? 0x80 : 0) | (h.ad ? 0x20 : 0) | (h.cd ? 0x10 : 0) |
                                    (h.rcode & 0x0F));
  buf_.push_back(b2);
  buf_.push_back(b3);
  u16(h.qdcount);
  u16(h.ancount);
  u16(h.nscount);
  u16(h.arcount);
}

bool Encoder::written_equals(size_t off, const Name& n, size_t from) const {
  size_t i = from;
  for (size_t hops = 0; hops <= kMaxPointerHops;) {
    if (off >= buf_.size()) return false;
    uint8_t len = buf_[off];
    if ((len & 0xC0) == 0xC0) {
      if (off + 1 >= buf_.size()) return false;
      off = (size_t{len & 0x3Fu} << 8) | buf_[off + 1];
      ++hops;
      continue;
    }
    if (len == 0) return i == n.labels.size();
    if (i >= n.labels.size() || n.labels[i].size() != len || off + 1 + len > buf_.size()) return false;
    const auto& l = n.labels[i];
    for (size_t k = 0; k < len; ++k)
      if (lower(static_cast<char>(buf_[off + 1 + k])) != lower(l[k])) return false;
    off += 1 + len;
    ++i;
  }
  return false;
}

void Encoder::name(const Name& n) {
  // Try each suffix, longest first, against the names already written.
  for (size_t i = 0; i < n.labels.size(); ++i) {
    for (uint16_t off : written_) {
      if (written_equals(off, n, i)) {
        u16(static_cast<uint16_t>(0xC000 | off));
        return;
      }
    }
    // Pointers hold 14 bits (RFC 1035 4.1.4): only remember reachable offsets.
    if (buf_.size() < 0x4000) written_.push_back(static_cast<uint16_t>(buf_.size()));
    buf_.push_back(static_cast<uint8_t>(n.labels[i].size()));
    buf_.insert(buf_.end(), n.labels[i].begin(), n.labels[i].end());
  }
  buf_.push_back(0);
}

void Encoder::question(const Question& q) {
  name(q.name);
  u16(q.qtype);
  u16(q.qclass);
}

void Encoder::local_record(const LocalRecord& r) {
  name(r.owner);
  u16(r.type);
  u16(kClassIN);
  u32(r.ttl);
  size_t len_at = buf_.size();
  u16(0);
  if (r.type == rrtype::PTR) {
    name(r.target);  // RFC 1035 3.3.12: PTRDNAME may be compressed
  } else {
    bytes(r.address);
  }
  size_t len = buf_.size() - len_at - 2;
  buf_[len_at] = static_cast<uint8_t>(len >> 8);
  buf_[len_at + 1] = static_cast<uint8_t>(len);
}

void Encoder::opt(const Edns& e) {
  buf_.push_back(0);  // root owner
  u16(rrtype::OPT);
  u16(e.udp_payload);
  u32((uint32_t{e.ext_rcode} << 24) | (uint32_t{e.version} << 16) | (e.dnssec_ok ? 0x8000u : 0u));
  u16(static_cast<uint16_t>(e.options.size()));
  bytes(e.options);
}

size_t udp_limit(const Message& query) {
  if (!query.edns) return kMaxUdpPlain;
  return std::max<size_t>(kMaxUdpPlain, query.edns->udp_payload);
}

namespace {

Header reply_header(const Header& q) {
  Header h;
  h.id = q.id;
  h.qr = true;
  h.opcode = q.opcode;
  h.rd = q.rd;
  h.ra = true;  // we recurse by forwarding
  h.cd = q.cd;
  return h;
}

// Our OPT in a reply (RFC 6891 6.1.3, 7): our payload size, version 0, DO
// echoed, no options. Extended RCODE bits come from `rcode`.
Edns reply_edns(const Edns& q, uint16_t rcode) {
  Edns e;
  e.udp_payload = kOurEdnsPayload;
  e.ext_rcode = static_cast<uint8_t>(rcode >> 4);
  e.dnssec_ok = q.dnssec_ok;
  return e;
}

Bytes encode(const Message& query, uint16_t rcode, bool aa, bool tc, std::span<const LocalRecord> answers) {
  Encoder enc;
  Header h = reply_header(query.header);
  h.aa = aa;
  h.tc = tc;
  h.rcode = static_cast<uint8_t>(rcode & 0x0F);
  h.qdcount = static_cast<uint16_t>(query.questions.size());
  h.ancount = static_cast<uint16_t>(answers.size());
  h.arcount = query.edns ? 1 : 0;
  enc.header(h);
  for (const auto& q : query.questions) enc.question(q);
  for (const auto& a : answers) enc.local_record(a);
  if (query.edns) enc.opt(reply_edns(*query.edns, rcode));
  return enc.take();
}

}  // namespace

Bytes build_response(const Message& query, Rcode rcode, bool authoritative,
                     std::span<const LocalRecord> answers, size_t limit) {
  uint16_t code = static_cast<uint16_t>(rcode);
  // RFC 6891 6.1.3: a version we do not implement gets BADVERS.
  if (query.edns && query.edns->version > 0) {
    code = kRcodeBadVers;
    answers = {};
  }
  Bytes out = encode(query, code, authoritative, false, answers);
  if (out.size() > limit) out = encode(query, code, authoritative, true, {});
  if (out.size() > limit) {
    // Still too long: many (or long) questions echoed. Header only.
    Message bare;
    bare.header = query.header;
    out = encode(bare, code & 0x0F, authoritative, true, {});
  }
  return out;
}

Bytes build_error_from_header(const Header& query_header, Rcode rcode) {
  Encoder enc;
  Header h = reply_header(query_header);
  h.rcode = static_cast<uint8_t>(rcode);
  enc.header(h);
  return enc.take();
}

Bytes truncate_relayed(const Message& query, std::span<const uint8_t> reply) {
  auto parsed = parse_header(reply);
  Encoder enc;
  Header h = reply_header(query.header);
  h.tc = true;
  if (parsed) {
    h.rcode = parsed.value().rcode;
    h.aa = parsed.value().aa;
    h.ra = parsed.value().ra;
  }
  h.qdcount = static_cast<uint16_t>(query.questions.size());
  h.arcount = query.edns ? 1 : 0;
  enc.header(h);
  for (const auto& q : query.questions) enc.question(q);
  if (query.edns) enc.opt(reply_edns(*query.edns, 0));
  return enc.take();
}

Bytes build_query(uint16_t id, const Name& name, uint16_t qtype, bool rd, std::optional<Edns> edns) {
  Encoder enc;
  Header h;
  h.id = id;
  h.rd = rd;
  h.qdcount = 1;
  h.arcount = edns ? 1 : 0;
  enc.header(h);
  enc.question({name, qtype, kClassIN});
  if (edns) enc.opt(*edns);
  return enc.take();
}

}  // namespace ferry::dns
