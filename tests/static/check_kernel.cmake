# Static check of one kernel file, no GPU needed: it compiles for ARCH, its PTX holds every
# instruction pattern in EXPECT (what the kernel's comment claims), and ptxas reports no
# register spills.
#   cmake -DNVCC=... -DSRC=... -DARCH=sm_90a -DINC=... -DOUT=... -DEXPECT="re1;re2"
#         [-DMAX_REGS=128] -P this
execute_process(
  COMMAND ${NVCC} -ptx -arch=${ARCH} -I${INC} -o ${OUT}.ptx ${SRC}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SRC} does not compile to PTX for ${ARCH}:\n${err}")
endif()
file(READ ${OUT}.ptx ptx)
foreach(re ${EXPECT})
  if(NOT ptx MATCHES "${re}")
    message(FATAL_ERROR "the PTX of ${SRC} for ${ARCH} holds no '${re}'")
  endif()
  string(REGEX MATCHALL "${re}" hits "${ptx}")
  list(LENGTH hits n)
  message(STATUS "${ARCH}: ${n} x '${re}'")
endforeach()
execute_process(
  COMMAND ${NVCC} -cubin -arch=${ARCH} -Xptxas=-v -I${INC} -o ${OUT}.cubin ${SRC}
  RESULT_VARIABLE rc ERROR_VARIABLE report)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SRC} does not assemble for ${ARCH}:\n${report}")
endif()
if(report MATCHES "[1-9][0-9]* bytes spill (stores|loads)")
  message(FATAL_ERROR "${SRC} spills registers on ${ARCH}:\n${report}")
endif()
if(DEFINED MAX_REGS)
  string(REGEX MATCHALL "Used [0-9]+ registers" used "${report}")
  foreach(u ${used})
    string(REGEX REPLACE "Used ([0-9]+) registers" "\\1" n "${u}")
    if(n GREATER MAX_REGS)
      message(FATAL_ERROR "${SRC} uses ${n} registers on ${ARCH}, more than the ${MAX_REGS} its "
                          "launch bounds allow for the occupancy it targets:\n${report}")
    endif()
  endforeach()
  message(STATUS "${SRC} on ${ARCH}: at most ${MAX_REGS} registers per thread")
endif()
message(STATUS "${SRC} on ${ARCH}: no spills")
