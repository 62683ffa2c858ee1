# Static check of a wgmma kernel's protocol constants, no GPU needed: the values its PTX (for
# ARCH) hands to mbarrier.init, mbarrier.arrive.expect_tx and wgmma.wait_group are exactly the
# ones kernels/matmul/wgmma_protocol.h gives (printed by PROBE, a host program built from that
# header), so an edit to the kernel alone, or to the header alone, is caught. A count the PTX
# computes at run time (no constant) is an error too.
#   cmake -DNVCC=... -DCC=... -DSRC=... -DARCH=sm_90a -DINC=... -DOUT=... -DPROBE=... -DKERNEL=...
#         -P this
cmake_policy(SET CMP0007 NEW)
execute_process(
  COMMAND ${NVCC} -ptx -arch=${ARCH} -I${INC} -o ${OUT}.ptx ${SRC}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SRC} does not compile to PTX for ${ARCH}:\n${err}")
endif()
execute_process(
  COMMAND ${CC} -std=c11 -Wall -Wextra -Werror -I${INC} -o ${OUT}.probe ${PROBE}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROBE} does not build:\n${err}")
endif()
execute_process(COMMAND ${OUT}.probe ${KERNEL} RESULT_VARIABLE rc OUTPUT_VARIABLE want
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OUT}.probe ${KERNEL} failed:\n${err}")
endif()
file(READ ${OUT}.ptx ptx)
# one statement a line, no ';' (CMake's list separator) left
string(REPLACE ";" "\n" ptx "${ptx}")

# The constant an operand holds: an immediate, or a register set once by mov from one.
function(tb_ptx_constant ptx operand what out)
  if(operand MATCHES "^[0-9]+$")
    set(${out} ${operand} PARENT_SCOPE)
    return()
  endif()
  set(reg "${operand}")
  string(REGEX MATCHALL "mov\\.[ub]32[ \t]+${reg},[ \t]*[0-9]+\n" movs "${ptx}")
  list(REMOVE_DUPLICATES movs)
  list(LENGTH movs n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "the PTX of ${SRC} for ${ARCH}: the ${what} operand ${operand} is not "
                        "one constant (${n} constant assignments): the protocol's values must "
                        "be compile-time constants from wgmma_protocol.h")
  endif()
  string(REGEX REPLACE ".*,[ \t]*([0-9]+)\n" "\\1" v "${movs}")
  set(${out} ${v} PARENT_SCOPE)
endfunction()

# The sorted set of constants the PTX hands to an instruction (its last operand).
function(tb_ptx_operands ptx re what out)
  string(REGEX MATCHALL "${re}[^;\n]*" hits "${ptx}")
  set(vals "")
  foreach(h ${hits})
    string(REGEX REPLACE ".*[ ,\t](%?[a-z0-9]+)$" "\\1" op "${h}")
    tb_ptx_constant("${ptx}" "${op}" "${what}" v)
    list(APPEND vals ${v})
  endforeach()
  list(REMOVE_DUPLICATES vals)
  list(SORT vals COMPARE NATURAL)
  set(${out} "${vals}" PARENT_SCOPE)
endfunction()

# Each kernel of the file (registers are per function: one kernel per layout may reuse a name)
set(init "")
set(expect_tx "")
set(wait_group "")
set(rest "${ptx}")
string(FIND "${rest}" ".entry " at)
while(NOT at EQUAL -1)
  math(EXPR at "${at} + 7")
  string(SUBSTRING "${rest}" ${at} -1 rest)
  string(FIND "${rest}" ".entry " at)
  string(SUBSTRING "${rest}" 0 ${at} fn)
  tb_ptx_operands("${fn}" "mbarrier\\.init\\.[a-z:.0-9]+[ \t]+\\[" "mbarrier.init count" v)
  list(APPEND init ${v})
  tb_ptx_operands("${fn}" "mbarrier\\.arrive\\.expect_tx\\.[a-z:.0-9]+[ \t]+" "expect_tx byte" v)
  list(APPEND expect_tx ${v})
  tb_ptx_operands("${fn}" "wgmma\\.wait_group\\.sync\\.aligned[ \t]+" "wait_group" v)
  list(APPEND wait_group ${v})
endwhile()
foreach(what init expect_tx wait_group)
  list(REMOVE_DUPLICATES ${what})
  list(SORT ${what} COMPARE NATURAL)
endforeach()

foreach(what init expect_tx wait_group)
  string(REGEX MATCH "${what}=([^\n]*)" line "${want}")
  set(header "${CMAKE_MATCH_1}")
  if(NOT "${${what}}" STREQUAL "${header}")
    message(FATAL_ERROR "${SRC} for ${ARCH}: the PTX's ${what} values are {${${what}}}, "
                        "wgmma_protocol.h says {${header}}: the kernel and the header disagree")
  endif()
  message(STATUS "${KERNEL} on ${ARCH}: ${what} {${${what}}} as wgmma_protocol.h says")
endforeach()
