# Static check of one kernel file, no GPU needed: it compiles for ARCH, its PTX holds every
# instruction pattern in EXPECT (what the kernel's comment claims) and none in FORBID, and
# ptxas reports no register spills and no serialized wgmma. Optionally: the SASS (cuobjdump)
# holds every pattern in SASS and none in SASS_FORBID; the setmaxnreg split SETMAXNREG (dec
# inc producer_warpgroups consumer_warpgroups) is what the PTX sets, fits the register file
# and covers ptxas's count, and ptxas warns of nothing (it warns when it ignores setmaxnreg).
#   cmake -DNVCC=... -DSRC=... -DARCH=sm_90a -DINC=... -DOUT=... -DEXPECT="re1;re2"
#         [-DFORBID=...] [-DMAX_REGS=128] [-DCUOBJDUMP=... -DSASS=... -DSASS_FORBID=...]
#         [-DSETMAXNREG="40;232;1;2"] [-DLOOP_MIX_MAX=0.35] -P this
# LOOP_MIX_MAX (with CUOBJDUMP): each kernel's main loop reads shared memory (LDSM + LDS) at
# most this many times per HMMA; "bound" or "kernel-regex=bound,..." (sass_loop_mix.cmake).
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
foreach(re ${FORBID})
  if(ptx MATCHES "${re}")
    message(FATAL_ERROR "the PTX of ${SRC} for ${ARCH} holds '${re}', which it must not")
  endif()
  message(STATUS "${ARCH}: no '${re}'")
endforeach()

set(ptxas_flags -Xptxas=-v)
if(SETMAXNREG)
  list(APPEND ptxas_flags -Xptxas=--warning-as-error)
endif()
execute_process(
  COMMAND ${NVCC} -cubin -arch=${ARCH} ${ptxas_flags} -I${INC} -o ${OUT}.cubin ${SRC}
  RESULT_VARIABLE rc ERROR_VARIABLE report)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SRC} does not assemble for ${ARCH}:\n${report}")
endif()
if(report MATCHES "[1-9][0-9]* bytes spill (stores|loads)")
  message(FATAL_ERROR "${SRC} spills registers on ${ARCH}:\n${report}")
endif()
# ptxas serializes wgmma (a wait after each one) when other instructions touch its
# accumulators mid-pipeline, e.g. an accumulator array indexed at run time, kept on the stack
if(report MATCHES "wgmma[.a-z_]* instructions are serialized")
  message(FATAL_ERROR "ptxas serializes the wgmma of ${SRC} on ${ARCH}:\n${report}")
endif()
string(REGEX MATCHALL "Used [0-9]+ registers" used "${report}")
set(most 0)
foreach(u ${used})
  string(REGEX REPLACE "Used ([0-9]+) registers" "\\1" n "${u}")
  if(n GREATER most)
    set(most ${n})
  endif()
endforeach()
if(DEFINED MAX_REGS)
  if(most GREATER MAX_REGS)
    message(FATAL_ERROR "${SRC} uses ${most} registers on ${ARCH}, more than the ${MAX_REGS} its "
                        "launch bounds allow for the occupancy it targets:\n${report}")
  endif()
  message(STATUS "${SRC} on ${ARCH}: ${most} registers per thread, at most ${MAX_REGS} allowed")
endif()

if(SETMAXNREG)
  list(GET SETMAXNREG 0 dec)
  list(GET SETMAXNREG 1 inc)
  list(GET SETMAXNREG 2 producers)
  list(GET SETMAXNREG 3 consumers)
  if(report MATCHES "[Ww]arning")
    message(FATAL_ERROR "ptxas warns on ${SRC} for ${ARCH}:\n${report}")
  endif()
  if(NOT ptx MATCHES "setmaxnreg\\.dec\\.sync\\.aligned\\.u32[ \t]+${dec};")
    message(FATAL_ERROR "the PTX of ${SRC} does not lower the producer to ${dec} registers")
  endif()
  if(NOT ptx MATCHES "setmaxnreg\\.inc\\.sync\\.aligned\\.u32[ \t]+${inc};")
    message(FATAL_ERROR "the PTX of ${SRC} does not raise the consumers to ${inc} registers")
  endif()
  math(EXPR total "128 * (${producers} * ${dec} + ${consumers} * ${inc})")
  math(EXPR at_launch "65536 / (128 * (${producers} + ${consumers})) / 8 * 8")
  if(total GREATER 65536)
    message(FATAL_ERROR "setmaxnreg ${dec}/${inc} asks for ${total} registers, more than 65536")
  endif()
  # the consumers' increase is served from what the producers release: the split must fit in
  # what the CTA holds at launch, or setmaxnreg.inc waits forever
  math(EXPR held "128 * (${producers} + ${consumers}) * ${most}")
  if(total GREATER held)
    message(FATAL_ERROR "setmaxnreg ${dec}/${inc} needs ${total} registers, more than the "
                        "${held} the CTA holds at launch (${most} per thread)")
  endif()
  if(most GREATER inc OR most GREATER at_launch)
    message(FATAL_ERROR "${SRC}: ptxas allocates ${most} registers, more than the consumers' "
                        "${inc} or the ${at_launch} every warp holds at launch")
  endif()
  if(dec GREATER most OR inc LESS most)
    message(FATAL_ERROR "${SRC}: setmaxnreg.dec ${dec} must be below and .inc ${inc} above the "
                        "${most} registers of the launch")
  endif()
  message(STATUS "${SRC} on ${ARCH}: ${most} registers at launch; setmaxnreg: ${producers} "
                 "producer warpgroup(s) at ${dec}, ${consumers} consumer warpgroup(s) at ${inc}: "
                 "${total} of 65536")
endif()

if(DEFINED CUOBJDUMP)
  if(NOT CUOBJDUMP OR NOT EXISTS "${CUOBJDUMP}")
    message(FATAL_ERROR "cuobjdump not found: the SASS of ${SRC} cannot be checked (pip install "
                        "nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm, or run scripts/test)")
  endif()
  get_filename_component(tools "${CUOBJDUMP}" DIRECTORY)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env "PATH=${tools}:$ENV{PATH}" ${CUOBJDUMP} -sass ${OUT}.cubin
    RESULT_VARIABLE rc OUTPUT_VARIABLE sass ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cuobjdump -sass ${OUT}.cubin failed:\n${err}")
  endif()
  string(REGEX MATCHALL "Function : [A-Za-z0-9_]+" kernels "${sass}")
  foreach(re ${SASS})
    string(REGEX MATCHALL "${re}" hits "${sass}")
    list(LENGTH hits n)
    if(n EQUAL 0)
      message(FATAL_ERROR "the SASS of ${SRC} for ${ARCH} (${kernels}) holds no '${re}'")
    endif()
    message(STATUS "${ARCH} SASS: ${n} x '${re}' (${kernels})")
  endforeach()
  if(LOOP_MIX_MAX)
    include(${CMAKE_CURRENT_LIST_DIR}/sass_loop_mix.cmake)
    tb_sass_check_loop_mix("${sass}" "${LOOP_MIX_MAX}" "${ARCH} ${SRC}")
  endif()
  foreach(re ${SASS_FORBID})
    string(REGEX MATCHALL "[ \t]${re}[ .]" hits "${sass}")
    list(LENGTH hits n)
    if(NOT n EQUAL 0)
      message(FATAL_ERROR "the SASS of ${SRC} for ${ARCH} holds ${n} x '${re}', which it must not")
    endif()
    message(STATUS "${ARCH} SASS: no '${re}'")
  endforeach()
endif()
message(STATUS "${SRC} on ${ARCH}: no spills")
