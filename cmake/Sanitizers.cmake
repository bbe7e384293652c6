# DM_SANITIZE=address: ASan + UBSan, any finding aborts the test. DM_SANITIZE=thread: TSan.
set(DM_SANITIZER_FLAGS "")
if(DM_SANITIZE STREQUAL "address")
  set(DM_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
elseif(DM_SANITIZE STREQUAL "thread")
  set(DM_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
  # GCC warns that TSan does not model std::atomic_thread_fence, which Asio's headers use; the
  # fences sit beside mutex operations TSan does see.
  add_compile_options(-Wno-tsan)
elseif(NOT DM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "DM_SANITIZE must be empty, 'address' or 'thread', got '${DM_SANITIZE}'")
endif()
if(DM_SANITIZER_FLAGS)
  add_compile_options(${DM_SANITIZER_FLAGS})
  add_link_options(${DM_SANITIZER_FLAGS})
endif()
