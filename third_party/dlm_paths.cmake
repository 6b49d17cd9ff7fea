# Install layout shared by the build and the runtime search for the sentencepiece
# module and the shipped model (see src/model_paths.cpp).
include(GNUInstallDirs)
set(DLM_INSTALL_LIBDIR "${CMAKE_INSTALL_LIBDIR}/dlm")
set(DLM_INSTALL_DATADIR "${CMAKE_INSTALL_DATADIR}/dlm")
