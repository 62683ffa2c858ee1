/* check.h - `trainbench check`: node acceptance. A fixed plan over the existing benchmarks
 * (membw, matmul, allreduce), the transfer matrix (p2p.h) and a sustained load (burn.h), then
 * a verdict per device and link (verdict.h), written as `verdict` lines after the results and
 * as a table, the node verdict last. */
#ifndef TB_CHECK_H
#define TB_CHECK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `trainbench check` (argv[0] is "check"); full_argv is the whole command line, for the
 * context. Returns the exit code: 0 every verdict PASS, WARN or SKIP; 1 a FAIL; 2 bad usage or
 * input (nothing measured, no file touched); 3 no GPU; 4 a device failure stopped the plan. */
int tb_check_main(int argc, char **argv, int full_argc, char **full_argv);

#ifdef __cplusplus
}
#endif
#endif
