// Runtime defaults of the sanitizer build (-DSIEM_SANITIZE=ON), compiled into every executable it
// links: the test programs and the siem-connector binary that the component tests start, so a
// child process reports exactly like the test that started it. ASAN_OPTIONS, UBSAN_OPTIONS and
// LSAN_OPTIONS given at run time still override any of these.
//
// exitcode=86: a finding must never pass for an exit status a test expects (validate and run exit
// with 1 on a configuration error, 2 and 3 after an incomplete run; ASan's and UBSan's own default
// is 1). Reports go to stderr, which the component tests capture and print when a child fails.

extern "C" {

const char* __asan_default_options();
const char* __ubsan_default_options();

const char* __asan_default_options() { return "halt_on_error=1:detect_leaks=1:exitcode=86"; }

const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1:exitcode=86"; }

}
