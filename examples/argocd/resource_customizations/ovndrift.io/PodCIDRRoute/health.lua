-- Argo CD health of ovn-drift resources (PodCIDRRoute, TunnelNoTrackPolicy): the kstatus
-- conditions the operator writes. Stalled=True -> Degraded (drift it will not or cannot repair,
-- a failed repair, an invalid spec, failing agents); Reconciling=True -> Progressing (a repair in
-- progress, northd catching up, agents pending, OVN unreachable); Ready=True -> Healthy.
-- Status older than the spec (observedGeneration < generation) -> Progressing.
-- Tested with lua5.1 over statuses from operator/api/status.ts: test/chart/argocd-health.test.ts.
local hs = {}
local function condition(conditions, ctype)
  for _, c in ipairs(conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end
local function text(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the ovn-drift operator to report status"
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Status is for generation " .. observed .. ", the spec is at " .. generation
  return hs
end
local stalled = condition(obj.status.conditions, "Stalled")
local reconciling = condition(obj.status.conditions, "Reconciling")
local ready = condition(obj.status.conditions, "Ready")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = text(stalled)
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = text(reconciling)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready)
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = text(ready)
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
