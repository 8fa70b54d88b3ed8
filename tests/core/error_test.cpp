// Error and field() (include/shadowsync/core/error.hpp): fields are plain names in what() and
// spelled by the front end in message(); marks survive building one error from another.
#include "shadowsync/core/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace shadowsync {
namespace {

std::string as_flag(std::string_view name) {
  std::string flag = "--" + std::string(name);
  for (char& c : flag) c = c == '_' ? '-' : c;
  return flag;
}

TEST(Error, WhatSpellsFieldsByTheirPlainName) {
  const Error e(field("threads_per_group") + " must be at least 1, got 0 (or set " + field("groups") + ")");
  EXPECT_STREQ(e.what(), "threads_per_group must be at least 1, got 0 (or set groups)");
}

TEST(Error, MessageLetsTheFrontEndSpellFields) {
  const Error e(field("threads_per_group") + " must be at least 1, got 0 (or set " + field("groups") + ")");
  EXPECT_EQ(e.message(as_flag), "--threads-per-group must be at least 1, got 0 (or set --groups)");
  EXPECT_EQ(e.message([](std::string_view n) { return std::string(n) + "="; }),
            "threads_per_group= must be at least 1, got 0 (or set groups=)");
}

TEST(Error, MessagesWithoutFieldsAreUnchanged) {
  const Error e("data.tsv:3: field 14: not a number");
  EXPECT_STREQ(e.what(), "data.tsv:3: field 14: not a number");
  EXPECT_EQ(e.message(as_flag), "data.tsv:3: field 14: not a number");
}

TEST(Error, MarksSurviveWrappingThroughMarked) {
  const Error inner(field("batch") + " must be positive");
  const Error outer(field("resume") + " 'run.ckpt': " + inner.marked());
  EXPECT_STREQ(outer.what(), "resume 'run.ckpt': batch must be positive");
  EXPECT_EQ(outer.message(as_flag), "--resume 'run.ckpt': --batch must be positive");
}

TEST(Error, AnUnmatchedMarkIsKeptAsText) {
  const Error e(std::string("odd \x1e text"));
  EXPECT_EQ(e.message(as_flag), "odd \x1e text");
}

}  // namespace
}  // namespace shadowsync
