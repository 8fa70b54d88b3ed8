// Runs the `shadowsync` tool as a process for command-line tests: its path comes in the
// SHADOWSYNC_EXE environment variable (set by the tests' meson.build files).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace shadowsync::test {

struct RunResult {
  int exit_code;       // -1 when the process did not exit normally
  std::string output;  // stdout, then stderr too when merged
};

// The tool's path ("" and a test failure when SHADOWSYNC_EXE is not set).
inline std::string shadowsync_exe() {
  const char* exe = std::getenv("SHADOWSYNC_EXE");
  if (exe == nullptr) {
    ADD_FAILURE() << "SHADOWSYNC_EXE is not set";
    return "";
  }
  return exe;
}

// Runs a shell command line and returns its exit code and standard output.
inline RunResult run_shell_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// Runs `shadowsync ARGS` through the shell; with merge_stderr, stderr goes into output too.
inline RunResult run_shadowsync(const std::string& args, bool merge_stderr = true) {
  const std::string exe = shadowsync_exe();
  if (exe.empty()) return {-1, ""};
  std::string command = "'";
  command.append(exe).append("' ").append(args);
  if (merge_stderr) command.append(" 2>&1");
  return run_shell_command(command);
}

}  // namespace shadowsync::test
