package kiosk

// SetPipelineHook installs a hook that safely calls before each step of
// the photo pipeline, with the step's name; call it before Run.
func SetPipelineHook(s *Station, fn func(during string)) { s.pipelineHook = fn }
