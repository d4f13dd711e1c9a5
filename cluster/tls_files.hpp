// Checking a node's TLS files when it starts, so that a bad file is
// reported by name before anything listens: caf_openssl reads them only
// when a connection opens, where a bad file could not be reported.
#pragma once

#include "base/error.hpp"
#include "config/node_options.hpp"

namespace lg {

/// Checks that the TLS files exist and hold a certificate, a key that
/// matches it, and a CA; errors name the option and the file.
error check_tls_files(const config::tls_options& tls);

} // namespace lg
