// Streaming Criteo parse (private to src/data): reads an InputStream in buffers of
// ParseOptions::stream_buffer_bytes, reading the next buffer on a second thread while the current
// one is parsed in parallel (segment_parser.hpp), and hands each buffer's rows to a sink in file
// order. Same rows, report and errors as parse_criteo_text on the whole decompressed text.
#pragma once

#include <cstdint>
#include <functional>

#include "input_stream.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/data_view.hpp"

namespace shadowsync::data {

// Called with each buffer's good rows (possibly 0 rows) and the decompressed bytes parsed up to
// the buffer's end, in order, one call at a time on a thread of the parser (while the next buffer
// is parsed); the view is valid only during the call.
using RowSink = std::function<void(const DataView&, uint64_t bytes_parsed)>;

// Parses the whole stream. Memory: 2 buffers + the rows of one buffer + the sink's. `report`,
// if given, is filled (bytes = decompressed bytes, compressed_bytes when compressed).
void parse_criteo_stream(InputStream& in, const ParseOptions& options, const RowSink& sink,
                         ParseReport* report = nullptr);

// The same, collecting every row into one block.
DataBlock parse_criteo_stream(InputStream& in, const ParseOptions& options,
                              ParseReport* report = nullptr);

}  // namespace shadowsync::data
