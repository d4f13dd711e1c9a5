// Encoding and decoding of write-ahead log records (layout in
// record_format.hpp).
#include "storage/record_format.hpp"

#include <stdexcept>

#include "storage/byte_fields.hpp"
#include "storage/crc32c.hpp"

namespace lg::storage {

using namespace internal;

namespace {

/// Reads little-endian fields from a byte range, never past its end.
class reader {
public:
  explicit reader(std::string_view data) : data_(data) {
  }

  bool u8(uint8_t& out) {
    if (data_.size() < 1)
      return false;
    out = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }

  bool u32(uint32_t& out) {
    if (data_.size() < 4)
      return false;
    out = get_u32(data_.data());
    data_.remove_prefix(4);
    return true;
  }

  bool u64(uint64_t& out) {
    if (data_.size() < 8)
      return false;
    out = get_u64(data_.data());
    data_.remove_prefix(8);
    return true;
  }

  bool bytes(uint64_t size, std::string_view& out) {
    if (size > data_.size())
      return false;
    out = data_.substr(0, static_cast<size_t>(size));
    data_.remove_prefix(static_cast<size_t>(size));
    return true;
  }

  size_t left() const {
    return data_.size();
  }

private:
  std::string_view data_;
};

} // namespace

void append_record(std::string& out, const log_record_view& rec) {
  auto payload = record_fixed_payload + rec.key.size() + rec.value.size();
  if (payload > max_record_payload)
    throw std::length_error("log record payload of " + std::to_string(payload)
                            + " bytes exceeds "
                            + std::to_string(max_record_payload));
  auto start = out.size();
  out.resize(start + record_header_size + payload);
  char* header = &out[start];
  char* body = header + record_header_size;
  char* p = put_u64(body, rec.term);
  p = put_u64(p, rec.lsn);
  p = put_u8(p, static_cast<uint8_t>(rec.op));
  p = put_u64(p, rec.write_id);
  p = put_u32(p, static_cast<uint32_t>(rec.key.size()));
  p = put_bytes(p, rec.key);
  p = put_u32(p, static_cast<uint32_t>(rec.value.size()));
  put_bytes(p, rec.value);
  put_u32(header, static_cast<uint32_t>(payload));
  put_u32(header + 4, crc32c(0, body, payload));
}

std::string encode_record(const log_record& rec) {
  std::string out;
  append_record(out, rec);
  return out;
}

result<size_t> decode_record(std::string_view data, log_record_view& out,
                             bool verify_crc) {
  if (data.size() < record_header_size)
    return make_error(errc::torn_record,
                      "record header needs 8 bytes, only "
                        + std::to_string(data.size()) + " left");
  auto payload_len = get_u32(data.data());
  if (payload_len > max_record_payload)
    return make_error(errc::bad_format,
                      "payload_len " + std::to_string(payload_len) + " exceeds "
                        + std::to_string(max_record_payload));
  if (data.size() - record_header_size < payload_len)
    return make_error(
      errc::torn_record,
      "record needs " + std::to_string(record_header_size + payload_len)
        + " bytes, only " + std::to_string(data.size()) + " left");
  auto payload = data.substr(record_header_size, payload_len);
  if (verify_crc) {
    auto stored_crc = get_u32(data.data() + 4);
    auto actual_crc = crc32c(payload);
    if (actual_crc != stored_crc)
      return make_error(errc::checksum_mismatch,
                        "record crc " + hex32(stored_crc) + " != computed "
                          + hex32(actual_crc));
  }
  reader in{payload};
  uint64_t term = 0;
  uint64_t lsn = 0;
  uint8_t op = 0;
  uint64_t write_id = 0;
  uint32_t key_len = 0;
  uint32_t value_len = 0;
  std::string_view key;
  std::string_view value;
  if (!in.u64(term) || !in.u64(lsn) || !in.u8(op) || !in.u64(write_id)
      || !in.u32(key_len) || !in.bytes(key_len, key) || !in.u32(value_len)
      || !in.bytes(value_len, value))
    return make_error(errc::bad_format,
                      "record fields overrun payload_len "
                        + std::to_string(payload_len));
  if (in.left() != 0)
    return make_error(errc::bad_format,
                      std::to_string(in.left())
                        + " trailing bytes in record payload");
  if (op != static_cast<uint8_t>(op_kind::put)
      && op != static_cast<uint8_t>(op_kind::del))
    return make_error(errc::bad_format,
                      "record op " + std::to_string(op) + " is unknown");
  if (lsn == 0)
    return make_error(errc::bad_format, "record lsn is 0");
  out.term = term;
  out.lsn = lsn;
  out.op = static_cast<op_kind>(op);
  out.write_id = write_id;
  out.key = key;
  out.value = value;
  return record_header_size + payload_len;
}

result<size_t> decode_record(std::string_view data, log_record& out) {
  log_record_view view;
  auto used = decode_record(data, view);
  if (used) {
    out.term = view.term;
    out.lsn = view.lsn;
    out.op = view.op;
    out.write_id = view.write_id;
    out.key.assign(view.key.data(), view.key.size());
    out.value.assign(view.value.data(), view.value.size());
  }
  return used;
}

namespace {

// Offsets of the payload's fields (layout in record_format.hpp).
constexpr size_t op_at = 16;
constexpr size_t key_len_at = 25;
constexpr size_t key_at = 29;

/// Returns true when a whole valid record starts at the front of `data`.
/// Cheap structural checks come first, so that scanning every offset of a
/// torn tail computes a crc only where a record really seems to start.
bool record_starts_here(std::string_view data) {
  if (data.size() < record_header_size + record_fixed_payload)
    return false;
  auto len = get_u32(data.data());
  if (len < record_fixed_payload || len > data.size() - record_header_size)
    return false;
  auto payload = data.substr(record_header_size, len);
  auto op = static_cast<uint8_t>(payload[op_at]);
  if (op != static_cast<uint8_t>(op_kind::put)
      && op != static_cast<uint8_t>(op_kind::del))
    return false;
  auto key_len = get_u32(payload.data() + key_len_at);
  if (key_len > len - record_fixed_payload)
    return false;
  auto value_len = get_u32(payload.data() + key_at + key_len);
  if (uint64_t{record_fixed_payload} + key_len + value_len != len)
    return false;
  log_record_view rec;
  return decode_record(data, rec).ok();
}

} // namespace

bool is_torn_tail(std::string_view rest) {
  if (rest.empty())
    return false;
  log_record_view rec;
  auto used = decode_record(rest, rec);
  if (used.ok() || !has_code(used.err(), errc::torn_record))
    return false; // it decodes, or it is complete and bad
  if (rest.size() >= record_header_size) {
    // The header is whole: the fields that made it to the file must agree
    // with the declared length. A torn record is a prefix of a good one; a
    // damaged length field is not.
    auto len = get_u32(rest.data());
    auto payload = rest.substr(record_header_size);
    if (payload.size() > op_at) {
      auto op = static_cast<uint8_t>(payload[op_at]);
      if (op != static_cast<uint8_t>(op_kind::put)
          && op != static_cast<uint8_t>(op_kind::del))
        return false;
    }
    if (payload.size() >= key_at) {
      auto key_len = get_u32(payload.data() + key_len_at);
      if (uint64_t{record_fixed_payload} + key_len > len)
        return false;
      if (payload.size() >= key_at + key_len + 4) {
        auto value_len = get_u32(payload.data() + key_at + key_len);
        if (uint64_t{record_fixed_payload} + key_len + value_len != len)
          return false;
      }
    }
  }
  // A crash leaves nothing after the record it tore; valid records after a
  // bad one mean the bad one is damage in the middle of the log.
  for (size_t i = 1; i + record_header_size + record_fixed_payload
                       <= rest.size();
       ++i)
    if (record_starts_here(rest.substr(i)))
      return false;
  return true;
}

size_t record_length(std::string_view log) {
  if (log.size() < record_header_size)
    return 0;
  auto len = record_header_size + get_u32(log.data());
  return len <= log.size() ? len : 0;
}

} // namespace lg::storage
