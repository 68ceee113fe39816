"""Drive a running kernelci-api with kernelci-core's own Python client.

Usage: KCI_CORE_PATH=/path/to/kernelci-core \
       python3 scripts/check-python-client.py http://127.0.0.1:8001 admin PASSWORD
   or, with an API token (docs/tokens.md; scopes node:write and pubsub
   suffice) in place of the login JWT:
       KCI_API_TOKEN=kci_... python3 scripts/check-python-client.py http://127.0.0.1:8001

It logs in, subscribes to "node", creates and updates nodes, submits a
hierarchy through APIHelper.submit_results and checks the events that a
pipeline service would receive. Needs kernelci-core's dependencies
(requests, pydantic 2, pyyaml) importable.
"""
import os
import sys

sys.path.insert(0, os.environ.get('KCI_CORE_PATH', '../kernelci-core'))
import kernelci.config.api, kernelci.api, kernelci.api.helper
import requests
base = sys.argv[1]
tok = os.environ.get('KCI_API_TOKEN')
if not tok:
    user, pw = sys.argv[2], sys.argv[3]
    tok = requests.post(base + '/latest/user/login', data={'username': user, 'password': pw}).json()['access_token']
cfg = kernelci.config.api.API('local', base)
api = kernelci.api.get_api(cfg, tok)
print('whoami', api.user.whoami()['username'])
sub = api.subscribe('node', promisc=True)
print('sub', sub)
node = api.node.add({'name': 'checkout', 'kind': 'checkout', 'path': ['checkout'],
   'data': {'kernel_revision': {'tree': 'mainline', 'branch': 'master', 'commit': 'abc', 'url': 'https://git.kernel.org/x.git', 'version': {'version': '6', 'patchlevel': '7'}}}})
print('node', node['id'], node['state'], node['data']['kernel_revision']['version'])
ev = api.receive_event(sub)
print('event', ev['data']['op'] if isinstance(ev.get('data'), dict) else ev)
got = api.node.get(node['id'])
assert got['id'] == node['id']
node['state'] = 'available'
upd = api.node.update(node)
print('updated', upd['state'])
ev = api.receive_event(sub)
print('event2', ev['data']['op'], ev['data']['state'], ev['data'].get('previous_state'))
print('find', len(api.node.find({'kind': 'checkout'})))
print('findfast', len(api.node.findfast({'kind': 'checkout'})))
print('count', api.node.count({'kind': 'checkout'}))
kb = api.node.add({'name': 'kbuild-gcc', 'kind': 'kbuild', 'path': ['checkout','kbuild-gcc'], 'parent': node['id'], 'data': {'arch': 'x86_64'}})
ev = api.receive_event(sub)
# hierarchy via helper
h = kernelci.api.helper.APIHelper(api)
res = {'node': {**kb, 'state': 'done', 'result': 'pass'}, 'child_nodes': [{'node': {'name': 't1', 'kind': 'test', 'path': ['checkout','kbuild-gcc','t1'], 'result': 'pass', 'state': 'done'}, 'child_nodes': []}]}
out = h.submit_results(res, kb)
print('hierarchy', type(out).__name__, len(out) if isinstance(out, list) else out)
ev = api.receive_event(sub)
print('event3', ev['data']['op'], ev['data']['is_hierarchy'])
print('null none', api.node.get('0123456789abcdef01234567'))
api.unsubscribe(sub)
print('done')
