// kSanitizedBuild: true when the test is compiled with AddressSanitizer or ThreadSanitizer (gcc
// defines __SANITIZE_*__, clang answers __has_feature). Tests use it to skip, with a printed
// reason, only what a sanitizer makes meaningless: address-space limits (the sanitizers reserve
// terabytes of virtual memory) and quality margins of nondeterministic modes (their timing
// changes 10x under instrumentation); the normal build asserts them.
#pragma once

namespace shadowsync::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace shadowsync::test
