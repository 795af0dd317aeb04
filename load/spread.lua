-- wrk script for load/run.sh's spread scenario: rotate a patient search through many generated patients,
-- so that the sandbox builds patients instead of answering from its cache and the adapter maps
-- different data on each request. run.sh replaces @NHS_FILE@ with a file of NHS numbers.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local paths = {}
local i = 0

function init(args)
  for nhs in io.lines("@NHS_FILE@") do
    paths[#paths + 1] = "/FHIR/R4/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C"
      .. nhs .. "&_count=50"
  end
  -- Threads start far apart, so they do not ask for the same patients at the same time.
  i = ((id or 0) * 7919) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
